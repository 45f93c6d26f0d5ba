"""The SendGrid mail/send client through the real ``sendgrid`` library against the loopback fake."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.apis.sendgrid import (
    API_KEY_SETTING,
    BatchResult,
    SendGridAuthError,
    SendGridError,
    SendGridMailer,
)
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.server import LoopbackServer, Reply

API_KEY = "SG.dr1pL1ne-t3st.Kq8vX2mN7pR4sT6wY9zB3cF5hJ0kL1nP"
REPO_ROOT = Path(__file__).resolve().parents[3]


class Sleeps(list):
    """An injected ``sleep`` that records how long it was asked to wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid.running(API_KEY) as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_mailer(url: str, sleeps: Sleeps, api_key: str = API_KEY, **options: Any) -> SendGridMailer:
    return SendGridMailer(api_key, url, timeout=options.pop("timeout", 5.0), sleep=sleeps, **options)


@pytest.fixture
def mailer(fake: FakeSendGrid, sleeps: Sleeps) -> SendGridMailer:
    return make_mailer(fake.url, sleeps)


def address(n: int) -> str:
    return f"customer{n:04d}@example.co.kr"


def mail(count: int, **fields: Any) -> dict[str, Any]:
    """A plain-text campaign step to ``count`` customers, one personalization each."""
    return {
        "personalizations": [
            {"to": [{"email": address(n), "name": f"고객 {n}"}], "custom_args": {"customer_id": f"c{n:04d}"}}
            for n in range(count)
        ],
        "from": {"email": "hello@dripline.example", "name": "Dripline"},
        "subject": "봄 시즌 안내",
        "content": [{"type": "text/plain", "value": "안녕하세요"}],
        **fields,
    }


def statuses(result: BatchResult) -> list[str]:
    return [outcome.status for outcome in result.outcomes]


def test_a_202_accepts_every_personalization_under_the_message_id(fake, mailer):
    result = mailer.send(mail(3))

    [accepted] = fake.accepted()
    assert statuses(result) == ["accepted"] * 3
    assert [outcome.index for outcome in result.outcomes] == [0, 1, 2]
    assert {outcome.message_id for outcome in result.outcomes} == {accepted.message_id}
    assert len(accepted.message_id) == 22
    assert (result.sandbox, result.requests, result.retries, result.rate_limit_waits) == (False, 1, 0, 0)
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.header("User-Agent") == "sendgrid/6.12.5;python"
    assert json.loads(request.body) == mail(3)
    assert fake.accepted_emails() == [address(0), address(1), address(2)]


def test_each_accepted_request_has_its_own_message_id(fake, mailer):
    first = mailer.send(mail(1))
    second = mailer.send({**mail(2), "personalizations": mail(2)["personalizations"][1:]})

    assert first.outcomes[0].message_id != second.outcomes[0].message_id
    assert [message.message_id for message in fake.accepted()] == [
        first.outcomes[0].message_id,
        second.outcomes[0].message_id,
    ]


def test_sandbox_mode_is_accepted_with_200_and_reported_as_sandbox(fake, mailer):
    result = mailer.send(mail(2, mail_settings={"sandbox_mode": {"enable": True}}))

    assert statuses(result) == ["accepted", "accepted"]
    assert result.sandbox is True
    assert fake.accepted() == []
    assert [row["email"] for row in fake.accepted_recipients(sandbox=True)] == [address(0), address(1)]


def test_a_429_waits_until_the_rate_limit_resets_then_sends_the_same_request(fake, mailer, sleeps):
    fake.inject("rate_limit", times=2, reset_in=1.0)

    result = mailer.send(mail(2))

    assert statuses(result) == ["accepted", "accepted"]
    assert (result.requests, result.rate_limit_waits, result.retries) == (3, 2, 0)
    assert len(sleeps) == 2 and all(0.5 <= wait <= 2.0 for wait in sleeps)
    assert result.rate_limit_wait_seconds == pytest.approx(sum(sleeps))
    bodies = fake.bodies()
    assert bodies[0] == bodies[1] == bodies[2] == mail(2)
    assert len(fake.accepted()) == 1


def test_a_429_honours_a_longer_retry_after(fake, mailer, sleeps):
    fake.inject("rate_limit", reset_in=1.0, retry_after=7)

    result = mailer.send(mail(1))

    assert statuses(result) == ["accepted"]
    assert sleeps == [7.0]
    assert result.rate_limit_wait_seconds == 7.0


def test_rate_limit_waits_past_the_budget_fail_the_personalizations_as_retryable(fake, sleeps):
    fake.inject("rate_limit", times=10, reset_in=1.0, retry_after=30)
    mailer = make_mailer(fake.url, sleeps, max_rate_limit_wait=60)

    result = mailer.send(mail(2))

    assert sleeps == [30.0, 30.0]
    assert statuses(result) == ["failed", "failed"]
    assert all(outcome.retryable for outcome in result.outcomes)
    assert "SendGrid 429 after 3 attempts: too many requests" in result.outcomes[0].error
    assert "max_rate_limit_wait" in result.outcomes[0].error
    assert fake.accepted() == []


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_is_retried_with_backoff_and_then_accepted(fake, mailer, sleeps, status):
    fake.inject("server_error", times=2, status=status)

    result = mailer.send(mail(2))

    assert statuses(result) == ["accepted", "accepted"]
    assert (result.requests, result.retries, result.rate_limit_waits) == (3, 2, 0)
    assert sleeps == [1.0, 2.0]
    assert len(fake.accepted()) == 1


def test_5xx_retries_exhausted_fail_the_personalizations_as_retryable(fake, mailer, sleeps):
    fake.inject("server_error", times=4, status=503)

    result = mailer.send(mail(2))

    assert statuses(result) == ["failed", "failed"]
    assert [outcome.retryable for outcome in result.outcomes] == [True, True]
    assert result.outcomes[0].error == "SendGrid 503 after 4 attempts: service unavailable"
    assert result.outcomes[0].message_id is None
    assert (result.requests, result.retries) == (4, 3)
    assert sleeps == [1.0, 2.0, 4.0]
    assert fake.accepted() == []


def test_timeouts_whose_requests_were_accepted_end_unknown_and_at_most_1_plus_max_retries_copies(
    fake, sleeps
):
    """The duplicate risk of retrying a timeout: each lost answer may be an accepted copy.

    With max_retries=3 SendGrid may accept the same personalizations up to four times; the outcome is
    ``unknown`` (not retryable), so the caller never sends them a fifth time without checking events.
    """
    fake.inject("slow_then_accept", times=10, delay=2.0)
    mailer = make_mailer(fake.url, sleeps, timeout=0.25, max_retries=3)

    result = mailer.send(mail(2))

    assert statuses(result) == ["unknown", "unknown"]
    assert not any(outcome.retryable for outcome in result.outcomes)
    assert "may have been accepted" in result.outcomes[0].error
    assert "timed out after 0.25 s" in result.outcomes[0].error
    assert (result.requests, result.retries) == (4, 3)
    assert len(fake.accepted()) == 1 + mailer.max_retries
    assert fake.accepted_emails().count(address(0)) == 4


def test_without_timeout_retries_a_lost_answer_is_accepted_at_most_once(fake, sleeps):
    fake.inject("slow_then_accept", times=10, delay=2.0)
    mailer = make_mailer(fake.url, sleeps, timeout=0.25, retry_timeouts=False)

    result = mailer.send(mail(2))

    assert statuses(result) == ["unknown", "unknown"]
    assert result.requests == 1
    assert len(fake.accepted()) == 1


def test_a_timeout_then_an_answer_is_accepted_but_may_be_a_duplicate(fake, sleeps):
    fake.inject("slow_then_accept", delay=2.0)
    mailer = make_mailer(fake.url, sleeps, timeout=0.25)

    result = mailer.send(mail(1))

    assert statuses(result) == ["accepted"]
    assert result.retries == 1
    assert result.outcomes[0].message_id == fake.accepted()[1].message_id
    assert fake.accepted_emails() == [address(0), address(0)]


def test_a_request_that_timed_out_unprocessed_is_sent_again_once(fake, sleeps):
    fake.inject("slow_then_fail", delay=2.0)
    mailer = make_mailer(fake.url, sleeps, timeout=0.25)

    result = mailer.send(mail(2))

    assert statuses(result) == ["accepted", "accepted"]
    assert fake.accepted_emails() == [address(0), address(1)]


def test_5xx_exhausted_after_a_timeout_is_unknown_not_retryable(fake, sleeps):
    """A regression guard: a 503 at the end does not prove that the timed-out attempt was not accepted."""
    fake.inject("slow_then_accept", delay=2.0)
    fake.inject("server_error", times=3, status=503)
    mailer = make_mailer(fake.url, sleeps, timeout=0.25, max_retries=3)

    result = mailer.send(mail(1))

    assert statuses(result) == ["unknown"]
    assert result.outcomes[0].retryable is False
    assert result.outcomes[0].error == "SendGrid 503 after 4 attempts: service unavailable"
    assert len(fake.accepted()) == 1


def test_an_unreachable_sendgrid_fails_the_personalizations_as_retryable(sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    mailer = make_mailer(f"http://127.0.0.1:{closed_port}", sleeps, max_retries=2)

    result = mailer.send(mail(2))

    assert statuses(result) == ["failed", "failed"]
    assert all(outcome.retryable for outcome in result.outcomes)
    assert result.outcomes[0].error.startswith("could not reach SendGrid after 3 attempts")
    assert sleeps == [1.0, 2.0]


def test_a_400_naming_two_personalizations_fails_those_and_sends_the_rest_again(fake, mailer):
    fake.reject_addresses(address(1), address(3))

    result = mailer.send(mail(5))

    assert statuses(result) == ["accepted", "failed", "accepted", "failed", "accepted"]
    assert result.outcomes[1].error == (
        "SendGrid 400 on personalizations.1.to.0.email: Does not contain a valid address."
    )
    assert result.outcomes[3].error == (
        "SendGrid 400 on personalizations.3.to.0.email: Does not contain a valid address."
    )
    assert not result.outcomes[1].retryable
    assert result.requests == 2
    first, second = fake.bodies()
    assert len(first["personalizations"]) == 5
    assert [person["to"][0]["email"] for person in second["personalizations"]] == [
        address(0),
        address(2),
        address(4),
    ]
    [accepted] = fake.accepted()
    assert {result.outcomes[i].message_id for i in (0, 2, 4)} == {accepted.message_id}
    assert fake.accepted_emails() == [address(0), address(2), address(4)]


def test_a_400_on_a_later_request_names_the_callers_index_not_the_resent_position(fake, mailer):
    body = mail(4)
    fake.reject_addresses(address(0))
    body["personalizations"][3]["custom_args"] = {"customer_id": 4}

    result = mailer.send(body)

    assert statuses(result) == ["failed", "accepted", "accepted", "failed"]
    assert result.outcomes[0].error.endswith("Does not contain a valid address.")
    assert result.outcomes[3].error == (
        "SendGrid 400 on personalizations.3.custom_args: Invalid type. Expected: string, given: integer."
    )
    assert result.requests == 2


def test_an_address_repeated_across_personalizations_is_sent_once(fake, mailer):
    body = mail(3)
    body["personalizations"][2]["to"] = [{"email": address(0).upper()}]

    result = mailer.send(body)

    assert statuses(result) == ["accepted", "accepted", "failed"]
    assert "only be included once" in result.outcomes[2].error
    assert fake.accepted_emails() == [address(0), address(1)]


def test_a_400_on_from_fails_every_personalization_in_one_request(fake, mailer):
    result = mailer.send(mail(3, **{"from": {"email": "not an address"}}))

    assert statuses(result) == ["failed"] * 3
    assert {outcome.error for outcome in result.outcomes} == {
        "SendGrid 400 on from.email: The from email does not contain a valid address."
    }
    assert result.requests == 1
    assert fake.accepted() == []


def test_a_400_about_the_message_fails_everyone_even_beside_a_bad_address(fake, mailer):
    fake.reject_addresses(address(1))

    result = mailer.send(mail(3, categories=[f"c{n}" for n in range(11)]))

    assert statuses(result) == ["failed"] * 3
    assert result.outcomes[1].error.endswith("Does not contain a valid address.")
    assert "Too many categories" in result.outcomes[0].error
    assert result.requests == 1


def test_a_413_splits_the_personalizations_in_halves(fake, mailer):
    fake.inject("too_large", times=2)

    result = mailer.send(mail(5))

    assert statuses(result) == ["accepted"] * 5
    sizes = [len(body["personalizations"]) for body in fake.bodies()]
    assert sizes == [5, 3, 2, 1, 2]
    assert result.requests == 5
    assert sorted(fake.accepted_emails()) == [address(n) for n in range(5)]
    assert len({outcome.message_id for outcome in result.outcomes}) == 3


def test_a_personalization_too_large_on_its_own_fails_and_the_others_go(sleeps):
    body = mail(4)
    body["personalizations"][2]["substitutions"] = {"-note-": "가" * 5000}
    small = len(json.dumps({**body, "personalizations": body["personalizations"][:2]}))
    with FakeSendGrid.running(API_KEY, max_body_bytes=small + 200) as fake:
        result = make_mailer(fake.url, sleeps).send(body)

        assert statuses(result) == ["accepted", "accepted", "failed", "accepted"]
        assert result.outcomes[2].error == "SendGrid 413: content too large"
        assert not result.outcomes[2].retryable
        assert sorted(fake.accepted_emails()) == [address(0), address(1), address(3)]


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("SG.revoked-key-0000000000000000000000", 401, "authorization required"),
        (None, 403, "access forbidden"),
    ],
)
def test_a_rejected_key_raises_naming_the_setting_never_the_key(fake, sleeps, key, status, message):
    if key is None:
        key = "SG.read-only-key-0000000000000000000"
        fake.add_key(key, scopes=["mail.read"])
    mailer = make_mailer(fake.url, sleeps, api_key=key)

    with pytest.raises(SendGridAuthError) as raised:
        mailer.send(mail(2))

    text = str(raised.value)
    assert API_KEY_SETTING in text
    assert f"HTTP {status}" in text and message in text
    assert key not in text and key not in repr(mailer)
    assert raised.value.status == status
    assert len(fake.requests) == 1
    assert statuses(raised.value.result) == ["failed", "failed"]
    assert all(outcome.retryable for outcome in raised.value.result.outcomes)


def test_an_auth_error_midway_keeps_what_was_settled_before_it(fake, mailer):
    fake.reject_addresses(address(0))
    fake.inject("unauthorized", skip=1)

    with pytest.raises(SendGridAuthError) as raised:
        mailer.send(mail(3))

    outcomes = raised.value.result.outcomes
    assert [outcome.status for outcome in outcomes] == ["failed"] * 3
    assert outcomes[0].error.endswith("Does not contain a valid address.") and not outcomes[0].retryable
    assert outcomes[1].retryable and API_KEY_SETTING in outcomes[1].error


def test_an_unexpected_status_raises_a_sendgrid_error_naming_the_url(sleeps):
    with LoopbackServer(
        lambda request: Reply(404, {"errors": [{"field": None, "message": "not found"}]})
    ).running() as server:
        mailer = make_mailer(server.url, sleeps)
        with pytest.raises(
            SendGridError, match=r"HTTP 404 to POST http://127\.0\.0\.1:\d+/v3/mail/send: not found"
        ):
            mailer.send(mail(1))


def test_custom_args_categories_asm_and_reply_to_arrive_exactly(fake, mailer):
    body = {
        "personalizations": [
            {
                "to": [{"email": address(1), "name": "김민수"}],
                "dynamic_template_data": {"first_name": "민수", "offer": "10%"},
                "custom_args": {"customer_id": "c0001", "step": "2"},
            },
            {
                "to": [{"email": address(2)}],
                "dynamic_template_data": {"first_name": "Jane"},
                "custom_args": {"customer_id": "c0002"},
            },
        ],
        "from": {"email": "hello@dripline.example", "name": "Dripline"},
        "template_id": "d-7f3c2e1b9a8d4c6e",
        "custom_args": {"campaign": "spring", "step": "1"},
        "categories": ["spring", "step-1"],
        "asm": {"group_id": 4242, "groups_to_display": [4242, 4243]},
        "reply_to": {"email": "support@dripline.example", "name": "Support"},
    }

    result = mailer.send(body)

    assert statuses(result) == ["accepted", "accepted"]
    first, second = fake.accepted_recipients()
    assert first["email"] == address(1) and first["name"] == "김민수"
    assert first["custom_args"] == {"campaign": "spring", "step": "2", "customer_id": "c0001"}
    assert second["custom_args"] == {"campaign": "spring", "step": "1", "customer_id": "c0002"}
    assert first["dynamic_template_data"] == {"first_name": "민수", "offer": "10%"}
    assert second["dynamic_template_data"] == {"first_name": "Jane"}
    for row in (first, second):
        assert row["template_id"] == "d-7f3c2e1b9a8d4c6e"
        assert row["categories"] == ["spring", "step-1"]
        assert row["asm"] == {"group_id": 4242, "groups_to_display": [4242, 4243]}
        assert row["reply_to"] == {"email": "support@dripline.example", "name": "Support"}
        assert row["message_id"] == result.outcomes[0].message_id


def test_subjects_and_substitutions_are_per_personalization(fake, mailer):
    body = mail(2)
    body["personalizations"][0]["subject"] = "민수님, 봄 시즌 안내"
    body["personalizations"][0]["substitutions"] = {"-name-": "민수"}

    mailer.send(body)

    first, second = fake.accepted_recipients()
    assert (first["subject"], first["substitutions"]) == ("민수님, 봄 시즌 안내", {"-name-": "민수"})
    assert (second["subject"], second["substitutions"]) == ("봄 시즌 안내", None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("personalizations"), "personalizations"),
        (lambda body: body["personalizations"][1].pop("to"), "personalizations.1.to"),
        (
            lambda body: body["personalizations"][1]["to"].append({"email": "a@@b"}),
            "personalizations.1.to.1.email",
        ),
        (
            lambda body: body["personalizations"][0].update(cc=[{"email": address(1)}]),
            "personalizations.1.to.0.email",
        ),
        (
            lambda body: body["personalizations"][0].update(custom_args={"n": 1}),
            "personalizations.0.custom_args",
        ),
        (lambda body: body.update(custom_args={"n": True}), "custom_args"),
        (lambda body: body.pop("from"), "from.email"),
        (lambda body: body.pop("subject"), "subject"),
        (lambda body: body.pop("content"), "content"),
        (lambda body: body.update(categories=["a"] * 2), "categories"),
        (lambda body: body.update(asm={"group_id": "42"}), "asm.group_id"),
        (lambda body: body.update(reply_to={"email": "nobody"}), "reply_to.email"),
        (
            lambda body: body.update(mail_settings={"sandbox_mode": {"enable": "true"}}),
            "mail_settings.sandbox_mode.enable",
        ),
    ],
)
def test_the_fake_rejects_what_sendgrid_rejects_naming_the_field(fake, change, field):
    body = mail(2)
    change(body)

    response = requests.post(
        f"{fake.url}/v3/mail/send", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5
    )

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]
    assert all(set(error) == {"message", "field", "help"} for error in response.json()["errors"])
    assert fake.accepted() == []


def test_the_fake_needs_a_bearer_key(fake):
    response = requests.post(f"{fake.url}/v3/mail/send", json=mail(1), timeout=5)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"field": None, "message": "authorization required", "help": None}]}


def test_the_fake_answers_429_with_sendgrids_rate_limit_headers(fake):
    fake.inject("rate_limit", reset_in=1.0)
    before = time.time()

    response = requests.post(
        f"{fake.url}/v3/mail/send", json=mail(1), headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5
    )

    assert response.status_code == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert before < int(response.headers["X-RateLimit-Reset"]) <= before + 2
    assert response.json()["errors"][0]["message"] == "too many requests"


def test_send_logs_no_addresses_and_no_key(fake, mailer, caplog):
    caplog.set_level(logging.DEBUG)
    fake.reject_addresses(address(1))
    fake.inject("server_error")

    mailer.send(mail(3))

    assert address(0) not in caplog.text and address(1) not in caplog.text
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"from": {"email": "hello@dripline.example"}}, "non-empty list of personalizations"),
        (mail(1001), "at most 1000 personalizations, got 1001"),
    ],
)
def test_a_body_outside_the_limits_is_refused_before_sending(fake, mailer, body, problem):
    with pytest.raises(ValueError, match=problem):
        mailer.send(body)

    assert fake.requests == []


def test_an_empty_key_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match=API_KEY_SETTING):
        SendGridMailer("  ")


def test_the_standalone_fake_records_each_accepted_recipient_before_answering(tmp_path, sleeps):
    record = tmp_path / "accepted.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.sendgrid",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--record",
            str(record),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        mailer = make_mailer(url, sleeps)

        first = mailer.send(mail(1000))
        second = mailer.send({**mail(3), "personalizations": mail(1003)["personalizations"][1000:]})

        lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == 1003
        assert [line["email"] for line in lines] == [address(n) for n in range(1003)]
        assert {line["message_id"] for line in lines[:1000]} == {first.outcomes[0].message_id}
        assert {line["message_id"] for line in lines[1000:]} == {second.outcomes[0].message_id}
        assert lines[5]["custom_args"] == {"customer_id": "c0005"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_the_standalone_fake_has_recorded_a_request_whose_answer_never_came(tmp_path, sleeps):
    record = tmp_path / "accepted.jsonl"
    command = [sys.executable, "-m", "tests.fakes.sendgrid", "--api-key", API_KEY, "--record", str(record)]
    process = subprocess.Popen([*command, "--latency", "5"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        mailer = make_mailer(process.stdout.readline().strip(), sleeps, timeout=0.5, retry_timeouts=False)

        result = mailer.send(mail(2))

        assert statuses(result) == ["unknown", "unknown"]
        assert [json.loads(line)["email"] for line in record.read_text().splitlines()] == [
            address(0),
            address(1),
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
