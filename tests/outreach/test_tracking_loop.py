"""The loop closed: what SendGrid's events and customers' replies say changes who gets the next step.

Events and replies go in through the receiver's own storage and pickup (connectors/webhooks/), exactly as
the receiver lands them, never written into landing by hand.
"""

from __future__ import annotations

import json
from datetime import timedelta

from connectors.core.normalize import normalize_email
from connectors.webhooks.pickup import collect_webhook_requests
from connectors.webhooks.spool import store_event_request, store_inbound_request
from tests.outreach.harness import answer_times_out, at, customer

DAY0 = at("2026-11-16 10:00")


def post_events(home, events: list[dict], received_at=None) -> None:
    store_event_request(home.landing, json.dumps(events).encode(), received_at)
    collect_webhook_requests(home.landing)


def post_reply(home, sender: str, to: str, received_at, *, automatic: bool = False) -> None:
    headers = [
        f"Message-ID: <{sender}-{received_at.timestamp()}@mail.example>",
        f"From: {sender}",
        f"To: {to}",
    ]
    if automatic:
        headers.append("Auto-Submitted: auto-replied")
    fields = {
        "headers": "\n".join(headers) + "\n",
        "from": sender,
        "to": to,
        "subject": "Re: 첫 주문 감사합니다",
        "text": "견적 부탁드립니다" if not automatic else "부재중입니다",
        "envelope": json.dumps({"to": [to], "from": sender}),
    }
    store_inbound_request(home.landing, fields, (), received_at)
    collect_webhook_requests(home.landing)


def event(send: dict, name: str, when, **fields) -> dict:
    return {
        "email": send["email"],
        "timestamp": int(when.timestamp()),
        "event": name,
        "sg_event_id": f"{name}-{send['send_id']}-{int(when.timestamp())}",
        "sg_message_id": "msg1.filter0001",
        "send_id": send["send_id"],
        "campaign": send["campaign"],
        "step": send["step"],
        "customer_id": send["customer_id"],
        **fields,
    }


def test_replies_unsubscribes_hard_bounces_and_spam_reports_stop_the_drip_before_its_next_step(outreach_home):
    home = outreach_home
    people = ["unsub", "hard", "soft", "spam", "replier", "ooo", "later", "quiet"]
    home.build([customer(p, f"{p}@guests.co.kr") for p in people])
    campaign = home.write_campaign()
    home.run(campaign, DAY0)
    sends = {s["customer_id"]: s for s in home.sends()}
    hour = DAY0 + timedelta(hours=1)
    post_events(
        home,
        [
            event(sends["unsub"], "group_unsubscribe", hour, asm_group_id=21001),
            event(sends["hard"], "bounce", hour, type="bounce", status="5.1.1"),
            event(sends["soft"], "bounce", hour, type="blocked", status="4.7.1"),
            event(sends["spam"], "spamreport", hour),
            # after the next run's clock: not known yet at that run
            event(sends["later"], "unsubscribe", DAY0 + timedelta(days=10)),
        ],
    )
    post_reply(
        home, "replier@guests.co.kr", f"replies+{sends['replier']['send_id']}@reply.catering.example", hour
    )
    post_reply(
        home,
        "ooo@guests.co.kr",
        f"replies+{sends['ooo']['send_id']}@reply.catering.example",
        hour,
        automatic=True,
    )

    report = home.run(campaign, DAY0 + timedelta(days=3))

    assert dict(report.exited) == {"unsubscribed": 1, "bounced": 2, "replied": 1}
    exits = {e["customer_id"]: e["exit_reason"] for e in home.enrollments(campaign.name)}
    assert exits == {
        "unsub": "unsubscribed",
        "hard": "bounced",
        "soft": None,  # a block is temporary
        "spam": "bounced",
        "replier": "replied",
        "ooo": None,  # an out-of-office is not a response
        "later": None,
        "quiet": None,
    }
    second_step = {s["customer_id"] for s in home.sends() if s["step"] == "reorder_nudge"}
    assert second_step == {"soft", "ooo", "later", "quiet"}


def test_a_reply_to_the_senders_own_address_finds_the_customer_by_address(outreach_home):
    home = outreach_home
    # the warehouse's matching key of the address, as identity computes it (Gmail ignores dots)
    key = normalize_email("Kim.Minsu@gmail.com")[0]
    home.build([customer("a", "Kim.Minsu@gmail.com", primary_email=key), customer("b", "b@guests.co.kr")])
    campaign = home.write_campaign()
    home.run(campaign, DAY0)
    # no +token: the customer wrote to the plain address, from the same mailbox written another way
    post_reply(home, "kimminsu@gmail.com", "replies@reply.catering.example", DAY0 + timedelta(hours=2))
    home.run(campaign, DAY0 + timedelta(days=3))
    assert {e["customer_id"]: e["exit_reason"] for e in home.enrollments(campaign.name)} == {
        "a": "replied",
        "b": None,
    }


def test_a_group_resubscribe_after_the_unsubscribe_lets_the_drip_go_on(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    home.run(campaign, DAY0)
    [send] = home.sends()
    post_events(
        home,
        [
            event(send, "group_unsubscribe", DAY0 + timedelta(hours=1), asm_group_id=21001),
            event(send, "group_resubscribe", DAY0 + timedelta(hours=2), asm_group_id=21001),
        ],
    )
    report = home.run(campaign, DAY0 + timedelta(days=3))
    assert not report.exited
    assert [s["step"] for s in home.sends()] == ["welcome", "reorder_nudge"]


def test_an_unknown_send_that_events_name_is_confirmed_sent_and_never_resent(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    with answer_times_out() as (fake, mailer):
        home.run(campaign, DAY0, mode="live", mailer=mailer)
        [row] = home.sends()
        assert row["status"] == "unknown"
        delivered = DAY0 + timedelta(minutes=1)
        post_events(home, [event(row, "processed", DAY0), event(row, "delivered", delivered)])
        report = home.run(campaign, DAY0 + timedelta(hours=1), mode="live", mailer=mailer)
        assert report.confirmed_unknown == 1
        [row] = home.sends()
        assert row["status"] == "sent"
        assert row["sent_at"].startswith("2026-11-16T01:00:00")
        assert "events show it was sent" in row["reason"]
        home.run(campaign, DAY0 + timedelta(hours=2), mode="live", mailer=mailer)
        assert [r["custom_args"]["step"] for r in fake.accepted_recipients()] == ["welcome"]
