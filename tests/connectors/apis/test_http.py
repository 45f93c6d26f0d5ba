"""The API client base against a scripted loopback server: retries, waits, timeouts and clear errors."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.apis.http import (
    ApiClient,
    ApiError,
    ApiUnavailableError,
    AuthError,
    MalformedResponseError,
    RateLimitBudgetError,
    RateLimitError,
)
from tests.fakes.server import LoopbackServer, Reply, Request

TOKEN = "s3cr3t-token-value"
SETTING = "DRIPLINE_EXAMPLE_TOKEN"
OK = Reply(200, {"ok": True})


class Script:
    """Answer requests with the queued replies, then with ``then`` forever."""

    def __init__(self, *replies: Reply, then: Reply = OK) -> None:
        self.replies = list(replies)
        self.then = then

    def __call__(self, request: Request) -> Reply:
        return self.replies.pop(0) if self.replies else self.then


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def server(script: Script) -> Iterator[LoopbackServer]:
    with LoopbackServer(script).running() as running:
        yield running


def make_client(base_url: str, **options) -> ApiClient:
    defaults = {"timeout": (1.0, 1.0), "max_retries": 3, "backoff_factor": 0.01, "backoff_jitter": 0.01}
    return ApiClient(base_url, token=SecretStr(TOKEN), token_setting=SETTING, **{**defaults, **options})


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[ApiClient]:
    with make_client(server.url) as api:
        yield api


def test_token_is_sent_as_the_configured_header_and_scheme(server, client):
    assert client.get_json("/things", {"a": 1}, page="things page 1") == {"ok": True}

    assert server.requests[0].path == "/things"
    assert server.requests[0].query == {"a": "1"}
    assert server.requests[0].header("authorization") == f"Bearer {TOKEN}"
    assert client.stats.api_calls == 1
    assert client.stats.retries == 0


def test_rate_limited_calls_wait_for_retry_after_and_count_the_wait(script, server, client):
    script.replies = [Reply(429, {"error": "slow down"}, {"Retry-After": "1"})] * 2

    started = time.monotonic()
    assert client.get_json("/things", page="things page 1") == {"ok": True}

    assert len(server.requests) == 3
    assert client.stats.api_calls == 3
    assert client.stats.retries == 2
    assert client.stats.rate_limit_waits == 2
    assert client.stats.rate_limit_wait_seconds >= 1.9
    assert time.monotonic() - started >= 1.9


def test_retry_after_longer_than_the_allowed_wait_fails_at_once(script, server):
    script.replies = [Reply(429, {"error": "daily budget spent"}, {"Retry-After": "2"})]

    with make_client(server.url, max_retry_after=1) as client, pytest.raises(RateLimitBudgetError) as raised:
        client.get_json("/things", page="things page 1")

    assert not raised.value.retryable  # a spent budget: running again soon cannot help
    assert len(server.requests) == 1
    assert "Retry-After: 2s" in str(raised.value)
    assert "daily budget spent" in str(raised.value)
    assert client.stats.rate_limit_waits == 0


def test_server_errors_are_retried_then_succeed(script, server, client):
    script.replies = [Reply(500, {"error": "boom"}), Reply(503, "<html>busy</html>")]

    assert client.get_json("/things", page="things page 1") == {"ok": True}

    assert len(server.requests) == 3
    assert client.stats.retries == 2
    assert client.stats.api_calls == 3
    assert client.stats.rate_limit_waits == 0


def test_persistent_server_error_gives_up_after_the_bounded_retries(script, server, client):
    script.then = Reply(502, {"error": "bad gateway"})

    with pytest.raises(ApiUnavailableError) as raised:
        client.get_json("/things", page="things page 7")

    assert len(server.requests) == 1 + 3
    assert client.stats.api_calls == 4
    message = str(raised.value)
    assert "HTTP 502 after 4 attempt(s)" in message
    assert "things page 7" in message
    assert f"{server.url}/things" in message


def test_read_timeouts_are_retried_a_bounded_number_of_times(script, server):
    script.then = Reply(200, {"ok": True}, delay=2.0)

    started = time.monotonic()
    client = make_client(server.url, timeout=(1.0, 0.2), max_retries=2)
    with client, pytest.raises(ApiUnavailableError) as raised:
        client.get_json("/things", page="things page 1")

    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 3
    assert client.stats.retries == 2
    assert "Read timed out" in str(raised.value)


def test_a_slow_answer_then_a_fast_one_succeeds(script, server):
    script.replies = [Reply(200, {"late": True}, delay=1.0)]

    with make_client(server.url, timeout=(1.0, 0.2)) as client:
        assert client.get_json("/things", page="things page 1") == {"ok": True}

    assert client.stats.retries == 1


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    client = make_client(f"http://127.0.0.1:{port}", max_retries=2)
    with client, pytest.raises(ApiUnavailableError, match="failed after 3 attempt"):
        client.get_json("/things", page="things page 1")

    assert client.stats.retries == 2


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_raised_at_once_naming_the_setting(script, server, client, status):
    script.then = Reply(status, {"error": f"token {TOKEN} is not valid"})

    with pytest.raises(AuthError) as raised:
        client.get_json("/things", page="things page 1")

    assert len(server.requests) == 1
    assert client.stats.retries == 0
    message = str(raised.value)
    assert SETTING in message
    assert f"HTTP {status}" in message
    assert TOKEN not in message


def test_other_client_errors_are_not_retried_and_quote_the_server(script, server, client):
    script.then = Reply(400, {"error": "Parameter 'limit' must be between 1 and 500"})

    with pytest.raises(ApiError, match="HTTP 400: Parameter 'limit' must be between 1 and 500"):
        client.get_json("/things", page="things page 1")

    assert len(server.requests) == 1


def test_redirects_are_not_followed_so_the_token_stays_home(script, server, client):
    with LoopbackServer(Script()).running() as elsewhere:
        script.then = Reply(302, b"", {"Location": f"{elsewhere.url}/steal"})

        with pytest.raises(ApiError, match="redirected"):
            client.get_json("/things", page="things page 1")

        assert elsewhere.requests == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"data": [1, 2', "not valid JSON"),
        (b"<html>maintenance</html>", "not valid JSON"),
        (b"[1, 2, 3]", "expected a JSON object, got list"),
    ],
)
def test_malformed_bodies_name_the_page_and_url(script, server, client, body, problem):
    script.then = Reply(200, body)

    with pytest.raises(MalformedResponseError) as raised:
        client.get_json("/things", {"cursor": "abc"}, page="things page 2 at cursor 'abc'")

    message = str(raised.value)
    assert problem in message
    assert "things page 2 at cursor 'abc'" in message
    assert f"{server.url}/things?cursor=abc" in message


def test_the_token_never_shows_in_repr_errors_or_logs(script, server, client, caplog):
    script.replies = [Reply(500, {"error": "boom"})]
    script.then = Reply(401, {"error": "unauthorized access"})
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError) as raised:
        client.get_json("/things", page="things page 1")

    assert server.requests[-1].header("authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in repr(client)
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(raised.value)
    assert caplog.records
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "base_url",
    ["api.pipedrive.com", "https://api.pipedrive.com/v1", "https://user:pw@api.pipedrive.com", "ftp://host"],
)
def test_base_url_must_be_scheme_and_host(base_url):
    with pytest.raises(ValueError, match="base URL"):
        ApiClient(base_url, token=SecretStr(TOKEN), token_setting=SETTING)


def test_base_url_keeps_scheme_host_and_port():
    client = ApiClient("http://127.0.0.1:8080/", token=SecretStr(TOKEN), token_setting=SETTING)

    assert client.base_url == "http://127.0.0.1:8080"


def test_an_empty_token_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match=SETTING):
        ApiClient("https://api.example.com", token=SecretStr(" "), token_setting=SETTING)


def test_stats_read_as_asset_metadata(script, server, client):
    script.replies = [Reply(429, {}, {"Retry-After": "1"})]

    client.get_json("/things", page="things page 1")
    metadata = client.stats.as_metadata()

    assert metadata["api_calls"] == 2
    assert metadata["retries"] == 1
    assert metadata["rate_limit_waits"] == 1
    assert metadata["rate_limit_wait_seconds"] >= 0.9


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ApiUnavailableError, True),
        (RateLimitError, True),
        (RateLimitBudgetError, False),
        (AuthError, False),
        (MalformedResponseError, False),
        (ApiError, False),
    ],
)
def test_only_outages_and_rate_limits_are_worth_a_later_retry(error, retryable):
    assert error("x").retryable is retryable
