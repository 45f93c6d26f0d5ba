"""The send path honours SendGrid's suppression lists as their sync landed them from the API (the loopback
fake): an address only SendGrid lists is not mailed, a block does not stop a send, and an address SendGrid
took off its list (reconciled by a full refresh) is mailed again."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from connectors.apis.sendgrid_suppressions import (
    ENTITIES,
    SendGridSuppressionClient,
    landing_zone,
    sync_entity,
)
from tests.fakes.sendgrid import FakeSendGrid
from tests.outreach.harness import at, customer

KEY = "SG.send-path-suppressions"
CREATED = 1_763_251_200  # 2025-11-16
DAY0 = at("2026-11-16 10:00")


def sync_lists(client: SendGridSuppressionClient, landing, *, full_refresh: bool = False) -> None:
    for entity in ENTITIES:
        sync_entity(
            client, landing_zone(landing, entity), overlap=timedelta(minutes=5), full_refresh=full_refresh
        )


def test_only_sendgrids_lists_suppress_and_a_removed_address_is_mailed_again(outreach_home):
    home = outreach_home
    people = {
        "ok": "ok@guests.co.kr",
        "bounced": "bounced@guests.co.kr",
        "blocked": "blocked@guests.co.kr",
        "group": "group@guests.co.kr",
        "other_group": "other@guests.co.kr",
        "unsubscribed": "unsub@guests.co.kr",
    }
    home.build([customer(customer_id, email) for customer_id, email in people.items()])
    campaign = home.write_campaign(exit_on=["replied"])
    with (
        FakeSendGrid.running(api_key=KEY) as fake,
        SendGridSuppressionClient(fake.url, SecretStr(KEY)) as client,
    ):
        fake.suppress(
            "bounces", "Bounced@Guests.co.kr", CREATED, reason="550 5.1.1 user unknown", status="5.1.1"
        )
        fake.suppress("blocks", "blocked@guests.co.kr", CREATED, reason="421 try again later", status="4.0.0")
        fake.suppress_in_group(21001, "group@guests.co.kr", CREATED)
        fake.suppress_in_group(99, "other@guests.co.kr", CREATED)
        for n in range(5):  # others on the list, so removing one is no mass deletion
            fake.suppress("unsubscribes", f"left{n}@elsewhere.kr", CREATED)
        fake.suppress("unsubscribes", "unsub@guests.co.kr", CREATED)
        sync_lists(client, home.landing)

        first = home.run(campaign, DAY0)

        fake.unsuppress("unsubscribes", "unsub@guests.co.kr")
        sync_lists(client, home.landing, full_refresh=True)
    home.build([customer(customer_id, email) for customer_id, email in people.items()])
    campaign = home.write_campaign(name="second_welcome", exit_on=["replied"])
    second = home.run(campaign, DAY0)

    reasons = {
        row["customer_id"]: (row["status"], row["reason"]) for row in home.sends("welcome_first_buyers")
    }
    assert {who: reason for who, (status, reason) in reasons.items() if status == "skipped"} == {
        "bounced": "suppressed: bounce",
        "group": "suppressed: group_unsubscribe",
        "unsubscribed": "suppressed: global_unsubscribe",
    }
    assert {reasons[who][0] for who in ("ok", "blocked", "other_group")} == {"dry_run"}
    assert first.skipped == {"suppressed": 3}
    assert second.skipped == {"suppressed": 2}
    assert reasons_of(home, "second_welcome")["unsubscribed"] == "dry_run"


def reasons_of(home, campaign: str) -> dict[str, str]:
    return {row["customer_id"]: row["status"] for row in home.sends(campaign)}
