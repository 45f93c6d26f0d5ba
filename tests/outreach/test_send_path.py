"""The send path of one campaign on a small warehouse: who is enrolled, due, mailed, and who never is."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest

from connectors.apis.sendgrid import SendGridMailer
from orchestration.lib.outreach import holdout_bucket, land_suppressions
from orchestration.lib.send_ledger import send_id_for
from tests.fakes.sendgrid import FakeSendGrid
from tests.outreach.harness import answer_times_out, at, customer

DAY0 = at("2026-11-16 10:00")


def outbox_messages(home) -> list[dict]:
    return [
        json.load(gzip.open(path)) for path in sorted((home.root / "outreach" / "outbox").rglob("*.json.gz"))
    ]


def test_day_0_and_day_3_replay_with_quiet_hours_and_the_korean_marker(outreach_home):
    home = outreach_home
    home.build([customer("c1", "minsu@guests.co.kr", full_name="김민수", company="맛있는식당")])
    campaign = home.write_campaign()

    late = home.run(campaign, at("2026-11-15 22:30"))
    assert late.skipped == {"quiet_hours": 1} and not outbox_messages(home)
    [row] = home.sends()
    assert (row["status"], row["reason"]) == ("skipped", "quiet_hours")

    day0 = home.run(campaign, DAY0)
    assert day0.statuses["dry_run"] == 1 and not day0.skipped
    [message] = outbox_messages(home)
    [person] = message["personalizations"]
    assert person["subject"] == "(광고) 김민수님, 첫 주문 감사합니다"
    assert person["to"] == [{"email": "minsu@guests.co.kr", "name": "김민수"}]
    assert person["substitutions"]["-dripline_body-"] == "<p>김민수님 안녕하세요</p>"
    send_id = person["custom_args"]["send_id"]
    assert person["custom_args"] == {
        "send_id": send_id,
        "campaign": "welcome_first_buyers",
        "step": "welcome",
        "customer_id": "c1",
    }
    assert person["substitutions"]["-dripline_reply-"] == send_id
    assert message["reply_to"] == {"email": "replies+-dripline_reply-@reply.catering.example"}
    assert message["asm"] == {"group_id": 21001}
    html = message["content"][-1]["value"]
    assert html.startswith("-dripline_body-")
    assert "서울시 성동구 성수이로 113" in html and "맛있는케이터링" in html
    assert "<%asm_group_unsubscribe_raw_url%>" in html and "수신거부" in html

    day2 = home.run(campaign, DAY0 + timedelta(days=2))
    assert day2.due == 0 and len(outbox_messages(home)) == 1

    day3 = home.run(campaign, DAY0 + timedelta(days=3))
    assert day3.statuses["dry_run"] == 1
    nudge = outbox_messages(home)
    assert len(nudge) == 2
    assert {m["custom_args"]["step"] for m in nudge} == {"welcome", "reorder_nudge"}
    assert [e["exit_reason"] for e in home.enrollments(campaign.name)] == [None]
    home.run(campaign, DAY0 + timedelta(days=4))
    assert [e["exit_reason"] for e in home.enrollments(campaign.name)] == ["completed"]


def test_a_service_message_carries_no_advertising_marker(outreach_home):
    outreach_home.build([customer("c1", "a@guests.co.kr", full_name="김민수")])
    campaign = outreach_home.write_campaign(
        purpose="service", steps=[{"id": "notice", "subject": "수신동의 안내", "html": "<p>x</p>"}]
    )
    outreach_home.run(campaign, DAY0)
    [message] = outbox_messages(outreach_home)
    assert message["personalizations"][0]["subject"] == "수신동의 안내"


def test_a_foreign_recipient_gets_their_regions_marker_not_koreas(outreach_home):
    outreach_home.build(
        [customer("c1", "emily@guests.co.kr", full_name="Emily Clark", primary_phone="+14155550123")]
    )
    campaign = outreach_home.write_campaign()
    outreach_home.run(campaign, DAY0)
    [message] = outbox_messages(outreach_home)
    assert message["personalizations"][0]["subject"] == "Emily Clark님, 첫 주문 감사합니다"


def test_nobody_ineligible_is_mailed_and_each_says_why(outreach_home):
    home = outreach_home
    home.build(
        [
            customer("ok", "ok@guests.co.kr"),
            customer("no_consent", "nc@guests.co.kr", consent_email=False, consent_email_at=None),
            customer("no_email", None),
            customer("unsubscribed", "unsub@guests.co.kr"),
            customer("group_unsubscribed", "group@guests.co.kr"),
            customer("other_group", "other@guests.co.kr"),
            customer("bounced", "bounce@guests.co.kr"),
            customer("spam", "spam@guests.co.kr"),
            customer("erased", "erased@guests.co.kr"),
        ]
    )
    land_suppressions(
        home.landing,
        [
            {"email": "UNSUB@guests.co.kr", "kind": "global_unsubscribe"},
            {"email": "group@guests.co.kr", "kind": "group_unsubscribe", "group_id": 21001},
            {"email": "other@guests.co.kr", "kind": "group_unsubscribe", "group_id": 99},
            {"email": "bounce@guests.co.kr", "kind": "bounce", "reason": "550 5.1.1 user unknown"},
            {"email": "spam@guests.co.kr", "kind": "spam_report"},
            {"email": "erased@guests.co.kr", "kind": "erasure"},
        ],
        origin="test",
    )
    campaign = home.write_campaign(exit_on=["replied"])
    report = home.run(campaign, DAY0)
    reasons = {row["customer_id"]: (row["status"], row["reason"]) for row in home.sends()}
    assert reasons == {
        "ok": ("dry_run", "dry run: recorded in the outbox, not sent"),
        "other_group": ("dry_run", "dry run: recorded in the outbox, not sent"),
        "no_consent": ("skipped", "no_consent"),
        "no_email": ("skipped", "no_email"),
        "unsubscribed": ("skipped", "suppressed: global_unsubscribe"),
        "group_unsubscribed": ("skipped", "suppressed: group_unsubscribe"),
        "bounced": ("skipped", "suppressed: bounce"),
        "spam": ("skipped", "suppressed: spam_report"),
        "erased": ("skipped", "suppressed: erasure"),
    }
    mailed = {p["to"][0]["email"] for m in outbox_messages(home) for p in m["personalizations"]}
    assert mailed == {"ok@guests.co.kr", "other@guests.co.kr"}
    assert report.skipped == {"suppressed": 5, "no_consent": 1, "no_email": 1}


def test_unsubscribes_and_bounces_end_the_drip_when_the_campaign_exits_on_them(outreach_home):
    home = outreach_home
    home.build(
        [customer("a", "a@guests.co.kr"), customer("b", "b@guests.co.kr"), customer("c", "c@guests.co.kr")]
    )
    campaign = home.write_campaign(exit_on=["unsubscribed", "bounced", "converted", "left_audience"])
    home.run(campaign, DAY0)
    land_suppressions(
        home.landing, [{"email": "a@guests.co.kr", "kind": "group_unsubscribe", "group_id": 21001}], "test"
    )
    land_suppressions(home.landing, [{"email": "b@guests.co.kr", "kind": "bounce"}], "test")
    home.build(
        [
            customer("a", "a@guests.co.kr"),
            customer("b", "b@guests.co.kr"),
            customer("c", "c@guests.co.kr", last_purchase_at=DAY0 + timedelta(days=1)),
        ]
    )
    report = home.run(campaign, DAY0 + timedelta(days=3))
    assert report.exited == {"unsubscribed": 1, "bounced": 1, "converted": 1}
    assert report.due == 0
    assert {e["customer_id"]: e["exit_reason"] for e in home.enrollments(campaign.name)} == {
        "a": "unsubscribed",
        "b": "bounced",
        "c": "converted",
    }


def test_a_customer_who_leaves_the_audience_gets_no_further_step(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    home.run(campaign, DAY0)
    home.build([customer("a", "a@guests.co.kr", segment="repeat_buyers")])
    report = home.run(campaign, DAY0 + timedelta(days=3))
    assert report.exited == {"left_audience": 1} and report.due == 0


def test_a_customer_merged_into_another_is_not_enrolled_and_mailed_again(outreach_home):
    home = outreach_home
    home.build([customer("old", "minsu@guests.co.kr")])
    campaign = home.write_campaign()
    home.run(campaign, DAY0)
    # The person's records now form a customer with another id, first seen after the campaign started: without
    # customer_id_history they would look like a new entrant and get the welcome again.
    later = DAY0 + timedelta(minutes=30)
    home.build([customer("new", "minsu@guests.co.kr", first_seen_at=later)], merges=[("old", "new")])
    report = home.run(campaign, DAY0 + timedelta(hours=1))
    assert report.enrolled == 0
    assert [m["personalizations"][0]["custom_args"]["customer_id"] for m in outbox_messages(home)] == ["old"]
    home.build([customer("new", "minsu@guests.co.kr", first_seen_at=later)])  # the same without the history
    assert home.run(campaign, DAY0 + timedelta(hours=2)).enrolled == 1


def test_the_address_is_mailed_as_written_not_as_the_matching_key(outreach_home):
    outreach_home.build([customer("c1", " Kim.Minsu+event@GMail.COM ")])
    campaign = outreach_home.write_campaign()
    outreach_home.run(campaign, DAY0)
    [message] = outbox_messages(outreach_home)
    assert message["personalizations"][0]["to"][0]["email"] == "Kim.Minsu+event@gmail.com"
    assert outreach_home.sends()[0]["email"] == "Kim.Minsu+event@gmail.com"


def test_the_holdout_is_deterministic_never_mailed_and_the_size_asked_for(outreach_home, tmp_path):
    customers = [customer(f"c{i:04d}", f"p{i}@guests.co.kr") for i in range(2000)]
    outreach_home.build(customers)
    campaign = outreach_home.write_campaign(holdout_percent=10)
    report = outreach_home.run(campaign, DAY0)
    groups = {e["customer_id"]: e["treatment_group"] for e in outreach_home.enrollments(campaign.name)}
    holdout = {c for c, g in groups.items() if g == "holdout"}
    assert holdout == {
        c["customer_id"] for c in customers if holdout_bucket(campaign.name, c["customer_id"]) < 1000
    }
    assert 150 <= len(holdout) <= 250
    assert report.statuses["holdout"] == len(holdout)
    mailed = {
        p["custom_args"]["customer_id"] for m in outbox_messages(outreach_home) for p in m["personalizations"]
    }
    assert not mailed & holdout and len(mailed) == 2000 - len(holdout)
    assert all(len(m["personalizations"]) <= 1000 for m in outbox_messages(outreach_home))
    # A home rebuilt from scratch draws the same groups.
    from tests.outreach.harness import Home

    other = Home(tmp_path / "other")
    other.build(customers)
    other.run(other.write_campaign(holdout_percent=10), DAY0)
    assert {
        e["customer_id"] for e in other.enrollments(campaign.name) if e["treatment_group"] == "holdout"
    } == holdout


def test_without_enroll_existing_only_customers_who_enter_later_are_enrolled(outreach_home):
    home = outreach_home
    before = DAY0 - timedelta(days=10)
    home.build([customer("old", "old@guests.co.kr", first_seen_at=before)])
    campaign = home.write_campaign(trigger={"type": "audience_entry", "enroll_existing": False})
    assert home.run(campaign, DAY0).enrolled == 0
    tomorrow = DAY0 + timedelta(days=1)
    home.build(
        [
            customer("old", "old@guests.co.kr", first_seen_at=before),
            customer("new", "new@guests.co.kr", first_seen_at=before),
        ],
        memberships=[
            ("old", "first_time_buyers", before, None),
            ("new", "cold_prospects", before, tomorrow),
            ("new", "first_time_buyers", tomorrow, None),
        ],
    )
    report = home.run(campaign, tomorrow)
    assert report.enrolled == 1 and [e["customer_id"] for e in home.enrollments(campaign.name)] == ["new"]


def test_a_first_run_that_stopped_before_enrolling_enrols_the_existing_audience_on_the_next(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr", first_seen_at=DAY0 - timedelta(days=30))])
    campaign = home.write_campaign()
    home.ledger.campaign_started_at(campaign.name, DAY0)  # the run that crashed got this far
    report = home.run(campaign, DAY0 + timedelta(hours=1))
    assert report.enrolled == 1
    assert home.run(campaign, DAY0 + timedelta(hours=2)).enrolled == 0


def test_a_birthday_enrols_days_before_once_a_year(outreach_home):
    home = outreach_home
    home.build(
        [
            customer("soon", "soon@guests.co.kr", birthday="--11-18", segment="cold_prospects"),
            customer("with_year", "y@guests.co.kr", birthday="1990-11-19", segment="cold_prospects"),
            customer("later", "later@guests.co.kr", birthday="1985-11-25", segment="cold_prospects"),
            customer("leap", "leap@guests.co.kr", birthday="1992-02-29", segment="cold_prospects"),
            customer("none", "none@guests.co.kr", birthday=None, segment="cold_prospects"),
        ]
    )
    campaign = home.write_campaign(
        name="birthday_greetings",
        audience={"where": "primary_email is not null"},
        trigger={"type": "date", "field": "birthday", "days_before": 3},
        steps=[{"id": "greeting", "subject": "{{ full_name }}님 생일 축하", "html": "<p>🎂</p>"}],
    )
    home.run(campaign, DAY0)
    assert {(e["customer_id"], e["cycle"]) for e in home.enrollments("birthday_greetings")} == {
        ("soon", "2026-11-18"),
        ("with_year", "2026-11-19"),
    }
    home.run(campaign, DAY0 + timedelta(days=1))
    assert len(home.enrollments("birthday_greetings")) == 2  # no second enrolment for the same birthday
    home.run(campaign, at("2027-02-26 10:00"))
    assert ("leap", "2027-02-28") in {
        (e["customer_id"], e["cycle"]) for e in home.enrollments("birthday_greetings")
    }
    home.run(campaign, at("2027-11-16 10:00"))
    cycles = [(e["customer_id"], e["cycle"]) for e in home.enrollments("birthday_greetings")]
    assert ("soon", "2027-11-18") in cycles and ("soon", "2026-11-18") in cycles
    sends = [s for s in home.sends("birthday_greetings") if s["customer_id"] == "soon"]
    assert [s["status"] for s in sends] == ["dry_run", "dry_run"]


def test_consent_reconfirmation_every_two_years_from_the_latest_answer(outreach_home):
    home = outreach_home
    home.build(
        [
            customer(
                "two_years",
                "a@guests.co.kr",
                consent_email_at=at("2024-11-20 09:00"),
                segment="cold_prospects",
            ),
            customer(
                "one_year",
                "b@guests.co.kr",
                consent_email_at=at("2025-11-20 09:00"),
                segment="cold_prospects",
            ),
            customer(
                "refused", "c@guests.co.kr", consent_email=False, consent_email_at=at("2024-11-20 09:00")
            ),
        ]
    )
    campaign = home.write_campaign(
        name="consent_reconfirmation",
        purpose="service",
        audience={"where": "consent_email"},
        trigger={"type": "date", "field": "consent_email_at", "every_years": 2, "days_before": 14},
        steps=[
            {
                "id": "notice",
                "subject": "수신동의 안내",
                "html": "<p>{{ consent_email_at.strftime('%Y-%m-%d') }}</p>",
            }
        ],
    )
    home.run(campaign, DAY0)
    assert [(e["customer_id"], e["cycle"]) for e in home.enrollments(campaign.name)] == [
        ("two_years", "2026-11-20")
    ]
    [message] = outbox_messages(home)
    assert message["personalizations"][0]["substitutions"]["-dripline_body-"] == "<p>2024-11-20</p>"


def test_a_new_form_submission_enrols_once_per_submission(outreach_home):
    home = outreach_home
    people = [
        customer("p1", "p1@guests.co.kr", segment="warm_prospects"),
        customer("p2", "p2@guests.co.kr", segment="warm_prospects"),
    ]
    home.build(people, source_records=[("p1", "forms", "old", DAY0 - timedelta(days=30))])
    campaign = home.write_campaign(
        name="warm_prospect_follow_up",
        audience={"segments": ["warm_prospects"]},
        trigger={"type": "form_submission"},
        steps=[{"id": "thanks", "subject": "감사합니다", "html": "<p>x</p>"}],
    )
    assert home.run(campaign, DAY0).enrolled == 0
    home.build(
        people,
        source_records=[
            ("p1", "forms", "old", DAY0 - timedelta(days=30)),
            ("p2", "typeform", "r-9", DAY0 + timedelta(hours=2)),
            ("p2", "spreadsheets", "row-3", DAY0 + timedelta(hours=2)),
        ],
    )
    report = home.run(campaign, DAY0 + timedelta(hours=3))
    assert report.enrolled == 1
    assert [(e["customer_id"], e["cycle"]) for e in home.enrollments(campaign.name)] == [
        ("p2", "typeform:r-9")
    ]
    assert home.run(campaign, DAY0 + timedelta(hours=4)).enrolled == 0


def test_the_frequency_cap_counts_marketing_sends_across_campaigns(outreach_home):
    home = outreach_home
    home.build([customer("c1", "c1@guests.co.kr")])
    cap = {"max_sends": 1, "days": 7}
    first = home.write_campaign(name="first_campaign", frequency_cap=cap)
    second = home.write_campaign(name="second_campaign", frequency_cap=cap)
    home.run(first, DAY0)
    report = home.run(second, DAY0 + timedelta(hours=1))
    assert report.skipped == {"frequency_cap": 1}
    assert home.run(second, DAY0 + timedelta(days=8)).statuses["dry_run"] == 1


def test_live_sends_reach_sendgrid_once_with_their_custom_args_and_are_never_resent(outreach_home):
    home = outreach_home
    home.build([customer(f"c{i}", f"c{i}@guests.co.kr", full_name=f"고객{i}") for i in range(5)])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.test") as fake:
        mailer = SendGridMailer("SG.test", fake.url, timeout=5)
        report = home.run(campaign, DAY0, mode="live", mailer=mailer, batch_size=2)
        assert report.statuses["sent"] == 5 and report.requests == 3
        recipients = fake.accepted_recipients()
        assert sorted(r["email"] for r in recipients) == [f"c{i}@guests.co.kr" for i in range(5)]
        by_customer = {r["custom_args"]["customer_id"]: r for r in recipients}
        sends = {s["customer_id"]: s for s in home.sends()}
        for customer_id, recipient in by_customer.items():
            assert recipient["custom_args"]["send_id"] == sends[customer_id]["send_id"]
            assert sends[customer_id]["send_id"] == send_id_for(campaign.name, "welcome", customer_id, "")
            assert recipient["custom_args"]["step"] == "welcome"
            assert recipient["subject"] == f"(광고) {recipient['name']}님, 첫 주문 감사합니다"
            assert recipient["categories"] == ["onboarding", "welcome_first_buyers"]
            assert recipient["asm"] == {"group_id": 21001}
            assert sends[customer_id]["status"] == "sent"
        message_ids = dict(home.ledger.rows("sends", ("send_id", "sg_message_id")))
        assert len(message_ids) == 5 and all(message_ids.values())
        assert set(message_ids.values()) == {m.message_id for m in fake.accepted()}
        again = home.run(campaign, DAY0 + timedelta(hours=1), mode="live", mailer=mailer)
        assert again.due == 0 and len(fake.accepted_recipients()) == 5


def test_a_rejected_address_fails_alone_with_sendgrids_message(outreach_home):
    home = outreach_home
    home.build([customer("good", "good@guests.co.kr"), customer("bad", "bad@guests.co.kr")])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.test") as fake:
        fake.reject_addresses("bad@guests.co.kr")
        home.run(campaign, DAY0, mode="live", mailer=SendGridMailer("SG.test", fake.url, timeout=5))
        assert fake.accepted_emails() == ["good@guests.co.kr"]
    statuses = {s["customer_id"]: (s["status"], s["reason"]) for s in home.sends()}
    assert statuses["good"][0] == "sent"
    assert statuses["bad"][0] == "failed" and "valid" in statuses["bad"][1]


def test_a_refused_key_stops_the_run_names_the_setting_and_sends_nothing(outreach_home):
    from connectors.apis.sendgrid import SendGridAuthError

    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.right") as fake:
        with pytest.raises(SendGridAuthError, match="DRIPLINE_SENDGRID_API_KEY"):
            home.run(campaign, DAY0, mode="live", mailer=SendGridMailer("SG.wrong", fake.url, timeout=5))
        assert fake.accepted_emails() == []
        # nothing reached SendGrid: the next run with the right key sends it
        home.run(
            campaign,
            DAY0 + timedelta(minutes=5),
            mode="live",
            mailer=SendGridMailer("SG.right", fake.url, timeout=5),
        )
        assert fake.accepted_emails() == ["a@guests.co.kr"]


def test_rate_limits_are_waited_out_and_the_send_continues(outreach_home):
    home = outreach_home
    home.build([customer(f"c{i}", f"c{i}@guests.co.kr") for i in range(4)])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.test") as fake:
        fake.inject("rate_limit", reset_in=0.5)
        report = home.run(
            campaign, DAY0, mode="live", mailer=SendGridMailer("SG.test", fake.url, timeout=5), batch_size=2
        )
        assert report.rate_limit_waits == 1 and report.statuses["sent"] == 4
        assert sorted(fake.accepted_emails()) == [f"c{i}@guests.co.kr" for i in range(4)]


def test_sandbox_sends_are_recorded_as_dry_runs_and_a_live_run_sends_them(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.test") as fake:
        mailer = SendGridMailer("SG.test", fake.url, timeout=5)
        home.run(campaign, DAY0, mode="sandbox", mailer=mailer)
        assert fake.accepted_emails(sandbox=True) == ["a@guests.co.kr"] and fake.accepted_emails() == []
        assert home.sends()[0]["status"] == "dry_run"
        home.run(campaign, DAY0 + timedelta(minutes=1), mode="live", mailer=mailer)
        assert fake.accepted_emails() == ["a@guests.co.kr"]
        assert home.sends()[0]["status"] == "sent"


def test_a_dynamic_template_gets_the_customer_columns_it_names_and_the_send_id(outreach_home):
    # Regression guard: the send path reads only the customers columns a campaign renders; template_data
    # names columns no Jinja template mentions.
    home = outreach_home
    home.build(
        [
            customer(
                "c1",
                "minsu@guests.co.kr",
                full_name="김민수",
                segment="first_time_buyers",
                last_purchase_at=at("2026-11-01 12:30"),
            )
        ]
    )
    campaign = home.write_campaign(
        steps=[
            {
                "id": "welcome",
                "template_id": "d-0123456789abcdef",
                "template_data": ["full_name", "segment", "last_purchase_at"],
            }
        ]
    )
    assert home.run(campaign, DAY0).statuses["dry_run"] == 1
    [message] = outbox_messages(home)
    assert message["template_id"] == "d-0123456789abcdef"
    [person] = message["personalizations"]
    assert person["dynamic_template_data"] == {
        "full_name": "김민수",
        "segment": "first_time_buyers",
        "last_purchase_at": "2026-11-01T12:30:00+09:00",
        "send_id": person["custom_args"]["send_id"],
    }


def test_an_outage_fails_the_batch_retryably_and_the_next_run_sends_it_once(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr"), customer("b", "b@guests.co.kr")])
    campaign = home.write_campaign()
    with FakeSendGrid.running("SG.test") as fake:
        fake.inject("server_error", times=3, status=503)
        mailer = SendGridMailer("SG.test", fake.url, timeout=5, max_retries=2, backoff_seconds=0.01)
        report = home.run(campaign, DAY0, mode="live", mailer=mailer)
        assert report.statuses["failed"] == 2 and fake.accepted_emails() == []
        assert all("503" in s["reason"] for s in home.sends())
        again = home.run(campaign, DAY0 + timedelta(minutes=10), mode="live", mailer=mailer)
        assert again.statuses["sent"] == 2
        assert sorted(fake.accepted_emails()) == ["a@guests.co.kr", "b@guests.co.kr"]


def test_a_request_whose_answer_timed_out_is_unknown_and_never_resent(outreach_home):
    home = outreach_home
    home.build([customer("a", "a@guests.co.kr")])
    campaign = home.write_campaign()
    with answer_times_out() as (fake, mailer):
        report = home.run(campaign, DAY0, mode="live", mailer=mailer)
        assert report.statuses["unknown"] == 1
        [row] = home.sends()
        assert row["status"] == "unknown"
        home.run(campaign, DAY0 + timedelta(hours=1), mode="live", mailer=mailer)
        home.run(campaign, DAY0 + timedelta(days=3), mode="live", mailer=mailer)
        # SendGrid had accepted it once; the later runs went on to the next step instead of resending it
        assert [r["custom_args"]["step"] for r in fake.accepted_recipients()] == ["welcome", "reorder_nudge"]
