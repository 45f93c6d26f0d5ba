"""Typeform syncs into the landing zone against the loopback fake: pages as batches, the cursor taken from
complete walks only, the contact columns found among refs and titles, and deleted responses."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import SecretStr

from connectors.apis.http import ApiError, MalformedResponseError
from connectors.apis.sync_engine import MassDeletionError
from connectors.apis.typeform import (
    TypeformClient,
    last_complete_until,
    response_contacts,
    responses_zone,
    sync_form,
    walks_zone,
)
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA
from tests.connectors.apis.harness import client_fixture, fake_fixture, landed_rows
from tests.fakes.typeform import EPOCH, FakeTypeform, answer, form, group, question, response

TOKEN = "tfp_landing_token_5Jg1Fc9sLd"
FORM_ID = "Kx7Pq2Lm"
OVERLAP = timedelta(minutes=5)
NOW = EPOCH + timedelta(days=1)


def signup_form() -> dict:
    return form(
        FORM_ID,
        question("nm01", "name", "short_text", "성함을 알려주세요"),
        question("em01", "a1b2c3", "email", "이메일 주소"),  # a generated ref: only its title says email
        group(
            "gr01",
            "contact_group",
            "연락처",
            question("ph01", "phone", "phone_number", "휴대폰 번호"),
            question("co01", "company", "short_text", "회사명"),
        ),
        question("ch01", "interest", "multiple_choice", "관심 상품"),
        question("yn01", "marketing_consent", "yes_no", "마케팅 정보 수신에 동의하십니까?"),
        hidden=("utm_source", "customer_id"),
    )


def signup(n: int, *, minutes: int | None = None, email: str | None = None) -> dict:
    return response(
        f"r{n:03d}",
        answer("nm01", "name", "short_text", "text", f"김민수{n}"),
        answer("em01", "a1b2c3", "email", "email", email or f"user{n}@example.co.kr"),
        answer("ph01", "phone", "phone_number", "phone_number", f"+8210{n:08d}"),
        answer("ch01", "interest", "multiple_choice", "choice", {"label": "봄 세트"}),
        answer("yn01", "marketing_consent", "yes_no", "boolean", True),
        submitted=EPOCH + timedelta(minutes=n if minutes is None else minutes),
        hidden={"utm_source": "instagram", "customer_id": "C-42"},
    )


fake = fake_fixture(FakeTypeform, token=TOKEN, prepare=lambda running: running.add_form(signup_form()))


client = client_fixture(
    lambda fake: TypeformClient(
        fake.url, SecretStr(TOKEN), page_size=3, request_interval=0.0, backoff_factor=0.01, max_retries=0
    )
)


landed = landed_rows


def sync(client, tmp_path, **options):
    return sync_form(
        client,
        responses_zone(tmp_path),
        walks_zone(tmp_path),
        FORM_ID,
        overlap=OVERLAP,
        now=options.pop("now", NOW),
        **options,
    )


def test_each_page_lands_as_its_own_batch_and_the_walk_is_marked_complete(fake, client, tmp_path):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 8)))

    report = sync(client, tmp_path)

    zone = responses_zone(tmp_path)
    assert zone.schema == API_CONTACT_RECORD_SCHEMA
    assert [b.rsplit("-", 1)[1] for b in zone.batch_ids()] == ["p00001", "p00002", "p00003"]
    rows = landed(zone)
    assert [row["record_id"] for row in rows] == [f"r{n:03d}" for n in range(7, 0, -1)]  # newest first
    assert {row["_entity"] for row in rows} == {FORM_ID}
    assert rows[0]["updated_at"] == EPOCH + timedelta(minutes=7)
    assert json.loads(rows[0]["record"])["token"] == "r007"
    assert rows[3]["_cursor"] == "r005"
    assert (report.records_new, report.pages, report.stats.api_calls) == (7, 3, 4)  # the form, 3 pages
    assert report.walk_complete and report.cursor_after == NOW
    assert last_complete_until(walks_zone(tmp_path), FORM_ID) == NOW
    assert fake.requests[1].query["until"] == "2025-03-02T00:00:00"
    assert "since" not in fake.requests[1].query


def test_answers_are_mapped_by_ref_and_the_contact_fields_normalised_like_a_spreadsheet_row(fake, client):
    columns = [
        ("name", "성함을 알려주세요"),
        ("a1b2c3", "이메일 주소"),
        ("phone", "휴대폰 번호"),
        ("company", "회사명"),
        ("interest", "관심 상품"),
        ("marketing_consent", "마케팅 정보 수신에 동의하십니까?"),
        ("hidden.utm_source", None),
        ("hidden.customer_id", None),
    ]
    item = signup(5, email=" Kim.Minsu+tf@Gmail.com ")
    bare = response("r900", answer("ch01", "interest", "multiple_choice", "choice", {"label": "기타"}))

    rows = response_contacts([item, bare], columns).to_pylist()

    assert rows[0]["source_record_id"] == "r005"  # the token, not the hidden customer_id
    assert (rows[0]["full_name"], rows[0]["email"]) == ("김민수5", "kimminsu@gmail.com")
    assert (rows[0]["phone"], rows[0]["phone_type"]) == ("+821000000005", "mobile")
    assert rows[0]["consent_email"] is True
    assert rows[0]["record_at"] == EPOCH + timedelta(minutes=5)
    assert json.loads(rows[0]["attributes"]) == {
        "interest": "봄 세트",
        "hidden.utm_source": "instagram",
        "hidden.customer_id": "C-42",
    }
    assert json.loads(rows[0]["raw_row"])["hidden.customer_id"] == "C-42"
    assert rows[0]["rejection_reason"] is None
    assert rows[1]["rejection_reason"].startswith("Typeform response 2: no valid email or phone")


def test_the_next_walk_starts_at_the_last_complete_walk_minus_the_overlap(fake, client, tmp_path):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 5)))
    sync(client, tmp_path)
    fake.add_responses(FORM_ID, signup(9, minutes=24 * 60 + 30))
    fake.requests.clear()

    report = sync(client, tmp_path, now=NOW + timedelta(hours=1))

    assert report.cursor_before == NOW
    assert fake.requests[1].query["since"] == "2025-03-01T23:55:00"  # NOW minus 5 minutes
    assert fake.requests[1].query["until"] == "2025-03-02T01:00:00"
    assert (report.records_fetched, report.records_new) == (1, 1)
    assert last_complete_until(walks_zone(tmp_path), FORM_ID) == NOW + timedelta(hours=1)


def test_a_walk_that_fails_half_way_leaves_the_cursor_so_the_next_walk_fetches_the_older_responses(
    fake, client, tmp_path
):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 3)))
    sync(client, tmp_path)
    fake.add_responses(FORM_ID, *(signup(n, minutes=24 * 60 + n) for n in range(10, 17)))  # 7 new
    fake.inject("server_error", skip=2)  # the form and the newest page answer, then the walk dies
    fake.requests.clear()

    with pytest.raises(ApiError):
        sync(client, tmp_path, now=NOW + timedelta(hours=1))

    landed_ids = [row["record_id"] for row in landed(responses_zone(tmp_path))]
    assert set(landed_ids) >= {"r016", "r015", "r014"} and "r010" not in landed_ids
    assert last_complete_until(walks_zone(tmp_path), FORM_ID) == NOW  # the failed walk did not count
    fake.requests.clear()

    report = sync(client, tmp_path, now=NOW + timedelta(hours=2))

    assert fake.requests[1].query["since"] == "2025-03-01T23:55:00"  # from the complete walk, not r016
    assert report.records_fetched == 7 and report.records_new == 4 and report.records_unchanged == 3
    ids = [row["record_id"] for row in landed(responses_zone(tmp_path))]
    assert sorted(set(ids)) == ["r001", "r002", *(f"r{n:03d}" for n in range(10, 17))]


def test_a_full_refresh_walks_everything_and_reconciles_deleted_responses(fake, client, tmp_path):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 7)))
    sync(client, tmp_path)
    del fake.responses[FORM_ID][1]  # r002 deleted in Typeform
    fake.requests.clear()

    incremental = sync(client, tmp_path, now=NOW + timedelta(minutes=10))
    full = sync(client, tmp_path, now=NOW + timedelta(minutes=20), full_refresh=True)

    assert incremental.records_deleted == 0
    assert "since" not in fake.requests[-1].query
    assert (full.records_fetched, full.records_unchanged, full.records_deleted) == (5, 5, 1)
    tombstones = [row for row in landed(responses_zone(tmp_path)) if row["is_deleted"]]
    assert [(row["record_id"], row["email"]) for row in tombstones] == [("r002", "user2@example.co.kr")]
    assert tombstones[0]["updated_at"] == EPOCH + timedelta(minutes=2)


def test_a_full_walk_missing_more_than_a_fifth_of_the_responses_tombstones_nothing(fake, client, tmp_path):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 5)))
    sync(client, tmp_path)
    fake.responses[FORM_ID].clear()  # e.g. a walk that came back empty
    zone = responses_zone(tmp_path)
    batches = zone.batch_ids()

    with pytest.raises(MassDeletionError, match=rf"form {FORM_ID}: 4 of 4 live landed records \(100%\)"):
        sync(client, tmp_path, now=NOW + timedelta(minutes=20), full_refresh=True)

    assert zone.batch_ids() == batches
    assert last_complete_until(walks_zone(tmp_path), FORM_ID) == NOW  # the refused walk is not complete
    allowed = sync(
        client, tmp_path, now=NOW + timedelta(minutes=30), full_refresh=True, allow_mass_deletion=True
    )
    assert allowed.records_deleted == 4
    assert sorted(row["record_id"] for row in landed(zone) if row["is_deleted"]) == [
        f"r{n:03d}" for n in range(1, 5)
    ]


def test_walks_of_one_form_do_not_move_the_cursor_of_another(fake, client, tmp_path):
    fake.add_form(form("Other123", question("em01", "email", "email", "Email")))
    fake.add_responses(FORM_ID, signup(1))
    sync(client, tmp_path)

    assert last_complete_until(walks_zone(tmp_path), "Other123") is None
    report = sync_form(
        client, responses_zone(tmp_path), walks_zone(tmp_path), "Other123", overlap=OVERLAP, now=NOW
    )
    assert report.since is None and report.records_fetched == 0


def test_an_answered_email_found_by_its_title_beats_a_hidden_email():
    columns = [("a1b2c3", "이메일 주소"), ("hidden.email", None), ("hidden.phone", None)]
    item = response(
        "r100",
        answer("em01", "a1b2c3", "email", "email", "typed@example.co.kr"),
        hidden={"email": "from-link@example.co.kr", "phone": "010-2345-6789"},
    )

    [row] = response_contacts([item], columns).to_pylist()

    assert row["email"] == "typed@example.co.kr"
    assert row["phone"] == "+821023456789"  # no question asks for a phone: the hidden one is used
    assert json.loads(row["attributes"]) == {"hidden.email": "from-link@example.co.kr"}


def test_an_answer_without_a_value_fails_the_sync_naming_the_page_and_lands_nothing_of_it(
    fake, client, tmp_path
):
    broken = signup(2)
    del broken["answers"][0]["text"]
    fake.add_responses(FORM_ID, broken, *(signup(n) for n in range(3, 6)))

    with pytest.raises(MalformedResponseError, match=r"page 2 before token 'r003'.*answers\[0\]"):
        sync(client, tmp_path)

    assert [row["record_id"] for row in landed(responses_zone(tmp_path))] == ["r005", "r004", "r003"]
    assert last_complete_until(walks_zone(tmp_path), FORM_ID) is None


@pytest.mark.parametrize(
    ("ref", "title"),
    [
        pytest.param("d4e5f6", "생년월일을 알려주세요", id="named-by-its-title"),
        pytest.param("birthday", "언제 태어나셨나요?", id="named-by-its-ref"),
    ],
)
def test_a_date_question_naming_a_birthday_lands_as_the_birthday(fake, client, tmp_path, ref, title):
    fake.add_form(
        form(
            "Bd4yForm",
            question("em01", "email", "email", "이메일"),
            question("dt01", ref, "date", title),
            question("dt02", "visit", "date", "방문 희망일"),
        )
    )
    fake.add_responses(
        "Bd4yForm",
        *(
            response(
                f"b{n:03d}",
                answer("em01", "email", "email", "email", f"user{n}@haneul.kr"),
                answer("dt01", ref, "date", "date", birthday),
                answer("dt02", "visit", "date", "date", "2025-04-01"),
                submitted=EPOCH + timedelta(minutes=n),
            )
            for n, birthday in ((1, "1990-03-15"), (2, "1990-02-30"))
        ),
    )

    sync_form(client, responses_zone(tmp_path), walks_zone(tmp_path), "Bd4yForm", overlap=OVERLAP, now=NOW)

    rows = sorted(landed(responses_zone(tmp_path)), key=lambda row: row["record_id"])
    assert [(r["raw_birthday"], r["birthday"]) for r in rows] == [
        ("1990-03-15", "1990-03-15"),
        ("1990-02-30", None),
    ]
    assert rows[1]["field_issues"] == "birthday: '1990-02-30' is not a real date"
    assert json.loads(rows[0]["attributes"]) == {"visit": "2025-04-01"}


def test_name_fields_asked_apart_are_joined_in_the_order_of_their_script():
    columns = [("q_first", "First name"), ("q_last", "Last name"), ("a1b2c3", "이메일 주소")]
    items = [
        response(
            f"r{n}",
            answer("f01", "q_first", "short_text", "text", first),
            answer("l01", "q_last", "short_text", "text", last),
            answer("em01", "a1b2c3", "email", "email", f"person{n}@example.co.kr"),
        )
        for n, (first, last) in enumerate([("민수", "김"), ("Minsu", "Kim")])
    ]

    rows = response_contacts(items, columns).to_pylist()

    assert [row["full_name"] for row in rows] == ["김민수", "Minsu Kim"]
