"""SendGrid's suppression lists against the loopback fake: offset paging, the key's 401, 429 waited out until
X-RateLimit-Reset, landing through the engine, a full refresh reconciling a removed address (with the
mass-deletion guard), and what is in force for the send path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis.sendgrid_suppressions import (
    TOKEN_SETTING,
    SendGridSuppressionClient,
    current_suppressions,
    landing_zone,
    sync_entity,
)
from connectors.apis.sync_engine import MassDeletionError
from tests.connectors.apis.harness import (
    chained_pages,
    check_page_size_limits,
    client_fixture,
    counted,
    fake_fixture,
    malformed_body_error,
    wrong_token_error,
)
from tests.fakes.sendgrid import FakeSendGrid

KEY = "SG.suppressions-0123456789"
CREATED = 1_735_689_600  # 2025-01-01 00:00 UTC
OVERLAP = timedelta(minutes=5)


fake = fake_fixture(FakeSendGrid, api_key=KEY)


def make_client(fake: FakeSendGrid, token: str = KEY, **options) -> SendGridSuppressionClient:
    defaults = {"page_size": 2, "timeout": (1.0, 2.0), "max_retries": 3, "backoff_factor": 0.01}
    return SendGridSuppressionClient(fake.url, SecretStr(token), **{**defaults, **options})


client = client_fixture(make_client)


def bounced(fake: FakeSendGrid, *numbers: int) -> None:
    for n in numbers:
        fake.suppress(
            "bounces", f"b{n}@guests.co.kr", CREATED + n, reason="550 5.1.1 user unknown", status="5.1.1"
        )


def test_a_list_pages_by_offset_until_a_short_page(fake, client):
    bounced(fake, 1, 2, 3, 4, 5)

    pages = chained_pages(client.iter_pages("bounces"), [2, 2, 1])

    assert [page.cursor for page in pages] == [None, "2", "4"]
    assert [request.path for request in fake.requests] == ["/v3/suppression/bounces"] * 3
    assert [request.query for request in fake.requests] == [
        {"limit": "2", "offset": str(offset)} for offset in (0, 2, 4)
    ]
    assert fake.requests[0].header("authorization") == f"Bearer {KEY}"
    assert sorted(r["email"] for page in pages for r in page.records) == [
        f"b{n}@guests.co.kr" for n in range(1, 6)
    ]


def test_a_full_last_page_ends_with_one_empty_page(fake, client):
    bounced(fake, 1, 2)

    assert [len(page.records) for page in client.iter_pages("bounces")] == [2, 0]


def test_group_unsubscribes_are_one_answer_from_asm(fake, client):
    fake.suppress_in_group(21001, "g@guests.co.kr", CREATED, group_name="Marketing")

    [page] = client.iter_pages("group_unsubscribes")

    assert page.records == [
        {"email": "g@guests.co.kr", "group_id": 21001, "group_name": "Marketing", "created_at": CREATED}
    ]
    assert fake.requests[0].path == "/v3/asm/suppressions"


@pytest.mark.parametrize(
    ("token", "status", "server_says"),
    [("SG.wrong-key-000", 401, "authorization required"), ("SG.send-only", 403, "access forbidden")],
    ids=["unknown-key", "key-without-suppression-read"],
)
def test_a_rejected_key_fails_at_once_naming_the_setting(fake, token, status, server_says):
    fake.add_key("SG.send-only", scopes=("mail.send",))

    error = wrong_token_error(
        fake,
        make_client,
        lambda client: client.iter_pages("spam_reports"),
        token=token,
        setting=TOKEN_SETTING,
        server_says=server_says,
    )

    assert error.status == status


def test_a_429_is_waited_out_until_x_ratelimit_reset_and_measured(fake, client):
    bounced(fake, 1)
    fake.inject("rate_limit", reset_in=1.0)

    [page] = client.iter_pages("bounces")

    assert len(page.records) == 1
    assert counted(client) == {"api_calls": 2, "pages": 1, "retries": 1, "rate_limit_waits": 1}
    assert client.stats.rate_limit_wait_seconds >= 0.5


def test_the_page_size_is_sendgrids_maximum_unless_smaller_and_refused_outside_1_to_500(fake):
    check_page_size_limits(
        fake, SendGridSuppressionClient, KEY, lambda c: c.iter_pages("blocks"), query_name="limit"
    )


def test_an_entry_without_a_created_time_is_malformed_naming_the_page(fake, client):
    message = malformed_body_error(
        fake,
        client.iter_pages("invalid_emails"),
        b'[{"email": "x@guests.co.kr"}]',
        "created is not a unix time",
    )

    assert "SendGrid invalid_emails page 1 (first page)" in message


def test_a_group_unsubscribe_without_its_group_is_malformed(fake, client):
    message = malformed_body_error(
        fake,
        client.iter_pages("group_unsubscribes"),
        b'[{"email": "g@guests.co.kr", "group_id": "21001", "created_at": 1735689600}]',
        "whose group_id '21001' is not a number",
    )

    assert "/v3/asm/suppressions" in message


def test_a_sync_lands_each_list_keyed_by_the_normalised_address_and_lands_nothing_twice(
    fake, client, tmp_path
):
    bounced(fake, 1, 2, 3)
    fake.suppress("bounces", "Kim.Minsu+news@GMAIL.com", CREATED + 10, reason="mailbox full", status="4.2.2")
    zone = landing_zone(tmp_path, "bounces")

    first = sync_entity(client, zone, overlap=OVERLAP, region="KR", local_tz="Asia/Seoul")
    bounced(fake, 4)
    second = sync_entity(client, zone, overlap=OVERLAP)

    assert (first.pages, first.records_new, first.rows_landed) == (3, 4, 4)
    assert (second.records_new, second.records_unchanged, second.rows_landed) == (1, 4, 1)
    assert second.updated_since is None  # no documented order: every sync walks the whole list
    rows = pq.read_table(zone.batch_path(first.batches[0])).to_pylist()
    assert [row["record_id"] for row in rows] == ["kimminsu@gmail.com", "b3@guests.co.kr"]
    assert rows[0]["updated_at"] == datetime.fromtimestamp(CREATED + 10, UTC)
    assert rows[0]["record"] == (
        '{"created":1735689610,"email":"Kim.Minsu+news@GMAIL.com","reason":"mailbox full","status":"4.2.2"}'
    )
    assert first.cursor_after == datetime.fromtimestamp(CREATED + 10, UTC)


def test_a_full_refresh_tombstones_an_address_taken_off_the_list_and_refuses_a_mass_removal(
    fake, client, tmp_path
):
    bounced(fake, *range(1, 11))
    zone = landing_zone(tmp_path, "bounces")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.unsuppress("bounces", "b4@guests.co.kr")

    incremental = sync_entity(client, zone, overlap=OVERLAP)
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert incremental.records_deleted == 0  # only a full refresh reconciles
    assert (full.records_deleted, full.records_unchanged) == (1, 9)
    [tombstone] = pq.read_table(zone.batch_path(full.batches[-1])).to_pylist()
    assert (tombstone["record_id"], tombstone["is_deleted"]) == ("b4@guests.co.kr", True)
    assert "b4@guests.co.kr" not in current_suppressions(tmp_path).column("email_key").to_pylist()
    for n in (1, 2, 3, 5):
        fake.unsuppress("bounces", f"b{n}@guests.co.kr")
    with pytest.raises(MassDeletionError, match="SendGrid bounces: 4 of 9"):
        sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    assert len(current_suppressions(tmp_path)) == 9  # refused: nothing was tombstoned
    allowed = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, allow_mass_deletion=True)
    assert allowed.records_deleted == 4


def test_an_address_listed_again_after_its_removal_is_suppressed_again(fake, client, tmp_path):
    bounced(fake, *range(1, 11))
    zone = landing_zone(tmp_path, "bounces")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.unsuppress("bounces", "b4@guests.co.kr")
    sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    bounced(fake, 4)

    again = sync_entity(client, zone, overlap=OVERLAP)

    assert again.records_updated == 1
    assert "b4@guests.co.kr" in current_suppressions(tmp_path).column("email_key").to_pylist()


def test_what_is_in_force_maps_each_list_to_its_kind_and_leaves_blocks_out(fake, client, tmp_path):
    fake.suppress("bounces", "b@guests.co.kr", CREATED + 1, reason="550", status="5.1.1")
    fake.suppress("blocks", "blocked@guests.co.kr", CREATED + 2, reason="mailbox full", status="4.2.2")
    fake.suppress("spam_reports", "s@guests.co.kr", CREATED + 3, ip="10.0.0.1")
    fake.suppress("invalid_emails", "not an address", CREATED + 4, reason="Mail domain mentioned in email")
    fake.suppress("unsubscribes", "u@guests.co.kr", CREATED + 5)
    fake.suppress_in_group(21001, "G@guests.co.kr", CREATED + 6)
    for entity in (
        "bounces",
        "blocks",
        "spam_reports",
        "invalid_emails",
        "global_unsubscribes",
        "group_unsubscribes",
    ):
        sync_entity(client, landing_zone(tmp_path, entity), overlap=OVERLAP)

    rows = current_suppressions(tmp_path).to_pylist()

    assert sorted((row["email_key"], row["kind"], row["group_id"]) for row in rows) == [
        ("b@guests.co.kr", "bounce", None),
        ("g@guests.co.kr", "group_unsubscribe", 21001),
        ("not an address", "invalid_email", None),
        ("s@guests.co.kr", "spam_report", None),
        ("u@guests.co.kr", "global_unsubscribe", None),
    ]
    assert {row["created_at"] for row in rows if row["kind"] == "bounce"} == {
        datetime.fromtimestamp(CREATED + 1, UTC)
    }


def test_nothing_landed_is_nothing_in_force(tmp_path):
    assert current_suppressions(tmp_path).num_rows == 0


def test_unknown_lists_are_refused(client):
    with pytest.raises(ValueError, match="unknown SendGrid suppression list"):
        list(client.iter_pages("complaints"))
