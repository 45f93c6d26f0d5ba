"""The Typeform client against the loopback fake: forms, paging, incremental reads, answers and faults."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from connectors.apis.http import ApiError, AuthError, RateLimitError, StuckCursorError
from connectors.apis.typeform import (
    FORM_IDS_SETTING,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    FormNotFoundError,
    TypeformClient,
    answers_by_ref,
    form_fields,
    typeform_time,
)
from tests.connectors.apis.harness import (
    check_page_size_limits,
    client_fixture,
    counted,
    fake_fixture,
    malformed_second_page,
    wrong_token_error,
)
from tests.fakes.typeform import EPOCH, FakeTypeform, answer, form, group, question, response

TOKEN = "tfp_8Hq2XbN4kW7mZr3VtY6pLd9sFc1Jg5"
FORM_ID = "Kx7Pq2Lm"


fake = fake_fixture(FakeTypeform, token=TOKEN, prepare=lambda running: running.add_form(signup_form()))


def make_client(fake: FakeTypeform, token: str = TOKEN, **options) -> TypeformClient:
    defaults = {"page_size": 3, "request_interval": 0.0, "timeout": (1.0, 1.0), "max_retries": 3}
    options = {"backoff_factor": 0.01, "backoff_jitter": 0.01, **defaults, **options}
    return TypeformClient(fake.url, SecretStr(token), **options)


client = client_fixture(make_client)


def signup_form() -> dict:
    return form(
        FORM_ID,
        question("nm01", "name", "short_text", "성함을 알려주세요"),
        question("em01", "email", "email", "이메일 주소"),
        group(
            "gr01",
            "contact_group",
            "연락처",
            question("ph01", "phone", "phone_number", "휴대폰 번호", default_country_code="KR"),
            question("dt01", "visit_date", "date", "방문 예정일"),
        ),
        question("ch01", "interest", "multiple_choice", "관심 상품"),
        title="봄 시즌 가입 신청",
        hidden=("utm_source", "customer_id"),
    )


def numbered(count: int, *, start: int = 1, hours: int = 0) -> list[dict]:
    """Responses r001, r002, ... submitted one minute apart, in that order."""
    return [
        response(
            f"r{n:03d}",
            answer("em01", "email", "email", "email", f"user{n}@example.co.kr"),
            submitted=EPOCH + timedelta(hours=hours, minutes=n),
        )
        for n in range(start, start + count)
    ]


def tokens(items) -> list[str]:
    return [item["response_id"] for item in items]


def test_the_form_definition_names_its_fields_refs_and_hidden_fields(client):
    definition = client.get_form(FORM_ID)

    assert definition["title"] == "봄 시즌 가입 신청"
    assert definition["hidden"] == ["utm_source", "customer_id"]
    assert [(item["ref"], item["type"]) for item in form_fields(definition)] == [
        ("name", "short_text"),
        ("email", "email"),
        ("phone", "phone_number"),
        ("visit_date", "date"),
        ("interest", "multiple_choice"),
    ]


def test_walks_every_page_newest_first_and_stops_at_a_short_page(fake, client):
    fake.add_responses(FORM_ID, *numbered(8))

    pages = list(client.iter_pages(FORM_ID))

    assert [len(page.items) for page in pages] == [3, 3, 2]
    assert [page.number for page in pages] == [1, 2, 3]
    assert [page.is_last for page in pages] == [False, False, True]
    assert tokens(item for page in pages for item in page.items) == [f"r{n:03d}" for n in range(8, 0, -1)]
    assert pages[0].before is None
    assert [page.before for page in pages[1:]] == ["r006", "r003"]
    assert pages[0].total_items == 8
    assert pages[0].items[0] == fake.responses[FORM_ID][-1].item
    assert client.stats.pages == 3
    assert client.stats.api_calls == 3
    first, second = fake.requests[0], fake.requests[1]
    assert first.path == f"/forms/{FORM_ID}/responses"
    assert first.header("authorization") == f"Bearer {TOKEN}"
    assert first.query == {"completed": "true", "page_size": "3"}
    assert second.query == {"completed": "true", "page_size": "3", "before": "r006"}
    assert all("sort" not in request.query and "page" not in request.query for request in fake.requests)


def test_a_result_that_fills_the_last_page_exactly_ends_with_one_empty_page(fake, client):
    fake.add_responses(FORM_ID, *numbered(6))

    pages = list(client.iter_pages(FORM_ID))

    assert [len(page.items) for page in pages] == [3, 3, 0]
    assert pages[-1].is_last


def test_a_form_with_no_responses_is_one_empty_last_page(client):
    pages = list(client.iter_pages(FORM_ID))

    assert len(pages) == 1
    assert pages[0].items == []
    assert pages[0].is_last
    assert pages[0].total_items == 0
    assert list(client.iter_records(FORM_ID)) == []


def test_since_returns_only_responses_submitted_at_or_after_it(fake, client):
    fake.add_responses(FORM_ID, *numbered(9))
    since = (EPOCH + timedelta(minutes=4)).astimezone(timezone(timedelta(hours=9)))

    pages = list(client.iter_pages(FORM_ID, since=since))

    assert tokens(item for page in pages for item in page.items) == [
        "r009",
        "r008",
        "r007",
        "r006",
        "r005",
        "r004",
    ]
    assert all(request.query["since"] == "2025-03-01T00:04:00" for request in fake.requests)
    assert pages[0].params == {"since": "2025-03-01T00:04:00", "completed": "true"}


def test_since_and_until_bound_a_window_on_both_sides(fake, client):
    fake.add_responses(FORM_ID, *numbered(9))

    records = client.iter_records(
        FORM_ID, since=EPOCH + timedelta(minutes=3), until=EPOCH + timedelta(minutes=5)
    )

    assert tokens(records) == ["r005", "r004", "r003"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 3, 1, 9, 30, 15, 999999, tzinfo=UTC), "2025-03-01T09:30:15"),
        ("2025-03-01T18:30:15+09:00", "2025-03-01T09:30:15"),
        ("2025-03-01T09:30:15Z", "2025-03-01T09:30:15"),
        (1740821415, "2025-03-01T09:30:15"),
    ],
)
def test_times_are_sent_as_utc_to_the_second_with_t(value, expected):
    assert typeform_time(value) == expected


def test_a_time_without_a_time_zone_is_refused(client):
    with pytest.raises(ValueError, match="time zone"):
        list(client.iter_pages(FORM_ID, since=datetime(2025, 3, 1)))


def test_partial_responses_are_left_out_unless_asked_for(fake, client):
    fake.add_responses(FORM_ID, *numbered(2), response("p001", completed=False, submitted=EPOCH))

    assert tokens(client.iter_records(FORM_ID)) == ["r002", "r001"]
    assert tokens(client.iter_records(FORM_ID, completed=False)) == ["p001"]


def test_answers_by_ref_reads_every_answer_type_and_keeps_hidden_fields():
    item = response(
        "a1b2c3d4e5f6g7h8",
        answer("nm01", "name", "short_text", "text", "김민준"),
        answer("em01", "email", "email", "email", "minjun.kim@example.co.kr"),
        answer("ph01", "phone", "phone_number", "phone_number", "+821012345678"),
        answer(
            "ch01", "interest", "multiple_choice", "choice", {"id": "c1", "ref": "c1", "label": "스킨케어"}
        ),
        answer(
            "ch02",
            "channels",
            "multiple_choice",
            "choices",
            {"ids": ["x", "y"], "labels": ["문자", "이메일"]},
        ),
        answer("yn01", "consent", "yes_no", "boolean", True),
        answer("op01", "nps", "opinion_scale", "number", 9),
        answer("dt01", "visit_date", "date", "date", "2025-04-05"),
        answer("ws01", "homepage", "website", "url", "https://shop.example.kr"),
        answer(
            "fu01",
            "receipt",
            "file_upload",
            "file_url",
            "https://api.typeform.com/forms/x/responses/y/fields/z/files/r.png",
        ),
        answer(
            "pm01",
            "deposit",
            "payment",
            "payment",
            {"amount": "10000", "last4": "4242", "name": "김민준", "success": True},
        ),
        answer("lt01", "note", "long_text", "text", "주차 가능한가요?\n두 명 방문합니다."),
        answer("dd01", "region", "dropdown", "text", "서울특별시"),
        hidden={"utm_source": "kakao", "customer_id": "C-1042", "email": "from-link@example.com"},
    )

    assert answers_by_ref(item) == {
        "name": "김민준",
        "email": "minjun.kim@example.co.kr",
        "phone": "+821012345678",
        "interest": "스킨케어",
        "channels": ["문자", "이메일"],
        "consent": True,
        "nps": 9,
        "visit_date": "2025-04-05",
        "homepage": "https://shop.example.kr",
        "receipt": "https://api.typeform.com/forms/x/responses/y/fields/z/files/r.png",
        "deposit": {"amount": "10000", "last4": "4242", "name": "김민준", "success": True},
        "note": "주차 가능한가요?\n두 명 방문합니다.",
        "region": "서울특별시",
        "hidden.utm_source": "kakao",
        "hidden.customer_id": "C-1042",
        "hidden.email": "from-link@example.com",
    }


@pytest.mark.parametrize(
    ("value_answer", "expected"),
    [
        (
            answer("ch01", "interest", "multiple_choice", "choice", {"other": "직접 입력: 향수"}),
            "직접 입력: 향수",
        ),
        (
            answer("ch02", "channels", "multiple_choice", "choices", {"labels": ["문자"], "other": "카톡"}),
            ["문자", "카톡"],
        ),
        (answer("ch02", "channels", "multiple_choice", "choices", {"other": "카톡"}), ["카톡"]),
        (answer("yn01", "consent", "legal", "boolean", False), False),
        (answer("nm01", "", "short_text", "text", "ref 없음"), "ref 없음"),
    ],
    ids=["choice-other", "choices-with-other", "choices-only-other", "boolean-false", "no-ref-uses-id"],
)
def test_answers_by_ref_edge_cases(value_answer, expected):
    key = value_answer["field"]["ref"] or value_answer["field"]["id"]

    assert answers_by_ref(response("t1", value_answer)) == {key: expected}


def test_answers_by_ref_of_a_response_without_answers_keeps_its_hidden_fields():
    item = response("t1", hidden={"utm_campaign": "봄세일"})
    item["answers"] = None

    assert answers_by_ref(item) == {"hidden.utm_campaign": "봄세일"}


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        ([{"type": "text", "text": "x"}], "answers[0] has no field"),
        ([{"field": {"id": "a", "ref": "a", "type": "short_text"}, "type": "text"}], "no value"),
        (
            [answer("a", "same", "short_text", "text", "1"), answer("b", "same", "short_text", "text", "2")],
            "repeats",
        ),
    ],
)
def test_answers_by_ref_refuses_an_answer_it_cannot_place(answers, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        answers_by_ref({"answers": answers, "hidden": {}})


def test_answers_from_the_api_map_by_ref(fake, client):
    fake.add_responses(
        FORM_ID,
        response(
            "k9",
            answer("nm01", "name", "short_text", "text", "이서연"),
            answer("ch01", "interest", "multiple_choice", "choice", {"label": "헤어"}),
            hidden={"utm_source": "naver"},
        ),
    )

    [record] = client.iter_records(FORM_ID)

    assert answers_by_ref(record) == {"name": "이서연", "interest": "헤어", "hidden.utm_source": "naver"}


def test_a_rate_limit_is_waited_out_and_measured(fake, client):
    fake.add_responses(FORM_ID, *numbered(5))
    fake.inject("rate_limit", skip=1, retry_after=1)

    records = list(client.iter_records(FORM_ID))

    assert tokens(records) == ["r005", "r004", "r003", "r002", "r001"]
    assert len(fake.requests) == 3
    assert counted(client) == {"api_calls": 3, "pages": 2, "retries": 1, "rate_limit_waits": 1}
    assert client.stats.rate_limit_wait_seconds >= 0.9


def test_rate_limited_beyond_the_retries_is_a_rate_limit_error(fake):
    fake.inject("rate_limit", times=10, retry_after=None)

    with make_client(fake, max_retries=1) as client, pytest.raises(RateLimitError, match="after 2 attempt"):
        list(client.iter_pages(FORM_ID))


def test_server_errors_then_success_lose_and_repeat_nothing(fake, client):
    fake.add_responses(FORM_ID, *numbered(7))
    fake.inject("server_error", times=1, skip=1, status=503)
    fake.inject("server_error", times=1)

    assert tokens(client.iter_records(FORM_ID)) == [f"r{n:03d}" for n in range(7, 0, -1)]
    assert client.stats.retries == 2


def test_requests_are_spaced_to_typeforms_rate(fake):
    fake.add_responses(FORM_ID, *numbered(4))

    started = time.monotonic()
    with make_client(fake, page_size=2, request_interval=0.15) as client:
        list(client.iter_pages(FORM_ID))

    assert len(fake.requests) == 3
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("token", "status", "server_says"),
    [
        ("tfp_wrongwrongwrong", 403, "The authorization token is not valid"),
        ("tfp_formsonly_123456", 403, "does not have the scope responses:read"),
    ],
    ids=["unknown-token", "token-without-responses-scope"],
)
def test_a_rejected_token_fails_at_once_naming_the_setting_not_the_token(fake, token, status, server_says):
    fake.add_token("tfp_formsonly_123456", {"forms:read"})
    fake.add_responses(FORM_ID, *numbered(2))

    error = wrong_token_error(
        fake,
        make_client,
        lambda client: client.iter_pages(FORM_ID),
        token=token,
        setting=TOKEN_SETTING,
        server_says=server_says,
    )

    assert error.status == status
    assert "responses:read" in str(error)


def test_a_401_fails_at_once_naming_the_setting(fake, client):
    fake.inject("unauthorized", times=5)

    with pytest.raises(AuthError, match=TOKEN_SETTING) as raised:
        client.get_form(FORM_ID)

    assert raised.value.status == 401
    assert "Authentication credentials are not valid" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("call", ["responses", "definition"])
def test_an_unknown_form_names_the_form_id_and_the_setting(client, call):
    with pytest.raises(FormNotFoundError) as raised:
        if call == "responses":
            list(client.iter_pages("NoSuchF0rm"))
        else:
            client.get_form("NoSuchF0rm")

    message = str(raised.value)
    assert raised.value.status == 404
    assert "'NoSuchF0rm'" in message
    assert "Non existing form with uid NoSuchF0rm" in message
    assert FORM_IDS_SETTING in message


@pytest.mark.parametrize("form_id", ["", "abc/../def", "abc?x=1", "폼"])
def test_a_form_id_that_cannot_be_one_is_refused_before_any_call(fake, client, form_id):
    with pytest.raises(ValueError, match="form id"):
        list(client.iter_pages(form_id))

    assert fake.requests == []


def test_a_malformed_page_names_its_token_after_the_good_pages(fake, client):
    fake.add_responses(FORM_ID, *numbered(7))
    fake.inject("malformed", skip=1)
    _, message = malformed_second_page(client.iter_pages(FORM_ID))

    assert f"responses of form {FORM_ID!r} completed=true page 2 before token 'r005'" in message


def test_a_token_that_does_not_advance_stops_with_an_error(fake, client):
    fake.add_responses(FORM_ID, *numbered(7))
    fake.stuck_token = True

    with pytest.raises(StuckCursorError, match="already paged") as raised:
        list(itertools.islice(client.iter_pages(FORM_ID), 10))

    assert len(fake.requests) == 2
    assert fake.requests[1].query["before"] == "r005"
    assert "'r005'" in str(raised.value)


def test_the_page_size_is_typeforms_maximum_unless_smaller_and_refused_outside_1_to_1000(fake):
    assert MAX_PAGE_SIZE == 1000

    check_page_size_limits(
        fake,
        TypeformClient,
        TOKEN,
        lambda client: client.iter_pages(FORM_ID),
        query_name="page_size",
        request_interval=0,
    )


def test_typeforms_own_page_size_error_is_reported_with_its_message(fake, client):
    with pytest.raises(ApiError, match=r"HTTP 400: The payload is invalid\.") as raised:
        client.get_json(f"/forms/{FORM_ID}/responses", {"page_size": 1001}, page="probe")

    assert not isinstance(raised.value, AuthError | FormNotFoundError)
