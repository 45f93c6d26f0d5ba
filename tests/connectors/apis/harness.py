"""What the API client and sync tests share: a fake and a client as fixtures, a walk read until it fails,
and the rows a zone has landed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis.http import ApiClient, ApiUnavailableError, AuthError, MalformedResponseError
from connectors.apis.sync_engine import Page
from connectors.core.landing import LandingZone
from tests.fakes.server import FakeApi

PageT = TypeVar("PageT")


def fake_fixture(
    fake_class: type[FakeApi], *args: Any, prepare: Callable[[Any], None] = lambda _fake: None, **kwargs: Any
):
    """A ``fake`` fixture: ``fake_class`` running on loopback for one test, after ``prepare``."""

    @pytest.fixture(name="fake")
    def running_fake() -> Iterator[Any]:
        with fake_class.running(*args, **kwargs) as running:
            prepare(running)
            yield running

    return running_fake


def client_fixture(build: Callable[[Any], ApiClient]):
    """A ``client`` fixture: ``build(fake)``, closed after the test."""

    @pytest.fixture(name="client")
    def open_client(fake: Any) -> Iterator[Any]:
        with build(fake) as client:
            yield client

    return open_client


def pages_until_error(pages: Iterable[PageT], error: type[Exception]) -> tuple[list[PageT], str]:
    """The pages a walk yielded before it raised ``error`` (which it must), and the error's message."""
    landed: list[PageT] = []
    with pytest.raises(error) as raised:
        for page in pages:
            landed.append(page)
    return landed, str(raised.value)


def first_page_error(pages: Iterable[Any], error: type[Exception], problem: str) -> str:
    """The message of ``error``, which the walk must raise with ``problem`` in it."""
    with pytest.raises(error, match=re.escape(problem)) as raised:
        list(pages)
    return str(raised.value)


def malformed_body_error(fake: FakeApi, pages: Iterable[Any], body: bytes, problem: str) -> str:
    """The message of the ``MalformedResponseError`` a walk raises, with ``problem`` in it, when the fake
    answers its first page with ``body``."""
    fake.inject("malformed", body=body)
    return first_page_error(pages, MalformedResponseError, problem)


def malformed_second_page(pages: Iterable[PageT]) -> tuple[PageT, str]:
    """A walk whose second page is cut off: it must have yielded exactly the first page, then failed with
    "not valid JSON"; the first page and the message."""
    landed, message = pages_until_error(pages, MalformedResponseError)
    assert [page.number for page in landed] == [1]  # type: ignore[attr-defined]
    assert "not valid JSON" in message
    return landed[0], message


def landed_rows(zone: LandingZone) -> list[dict]:
    """Every row landed in ``zone``, batch by batch."""
    rows = []
    for batch_id in zone.batch_ids():
        rows += pq.read_table(zone.batch_path(batch_id)).to_pylist()
    return rows


def counted(client: ApiClient) -> dict[str, int]:
    """The client's whole-number counters: API calls, pages, retries and rate-limit waits."""
    stats = client.stats
    return {
        "api_calls": stats.api_calls,
        "pages": stats.pages,
        "retries": stats.retries,
        "rate_limit_waits": stats.rate_limit_waits,
    }


def server_errors_after_first_page(fake: FakeApi, pages: Iterable[PageT]) -> tuple[PageT, str]:
    """A walk whose fake answers HTTP 500 to everything after its first page: the first page came, then
    the client (3 retries) gave up after 1 + 4 requests with an error saying so; the first page and the
    message."""
    landed, message = pages_until_error(pages, ApiUnavailableError)
    assert len(landed) == 1
    assert len(fake.requests) == 1 + 4
    assert "HTTP 500" in message
    return landed[0], message


def chained_pages(pages: Iterable[Page], sizes: list[int]) -> list[Page]:
    """The pages of a whole walk, checked: numbered from 1, holding ``sizes`` records, the first requested
    without a cursor and each other with the one the page before handed back, the last one last."""
    walked = list(pages)
    assert [len(page.records) for page in walked] == sizes
    assert [page.number for page in walked] == list(range(1, len(sizes) + 1))
    assert walked[0].cursor is None
    assert [page.cursor for page in walked[1:]] == [page.next_cursor for page in walked[:-1]]
    assert [page.is_last for page in walked] == [False] * (len(sizes) - 1) + [True]
    return walked


def wrong_token_error(
    fake: FakeApi,
    build: Callable[..., ApiClient],
    walk: Callable[[Any], Iterable[Any]],
    *,
    token: str,
    setting: str,
    server_says: str,
) -> AuthError:
    """The ``AuthError`` a client built with the wrong ``token`` raises at its first request: after exactly
    one call, naming ``setting`` and quoting what the server said, never showing the token (nor does the
    client's repr)."""
    with build(fake, token=token) as client, pytest.raises(AuthError) as raised:
        list(walk(client))
    message = str(raised.value)
    assert len(fake.requests) == 1
    assert client.stats.api_calls == 1
    assert setting in message
    assert server_says in message
    assert token not in message
    assert token not in repr(client)
    return raised.value


def check_page_size_limits(
    fake: FakeApi,
    client_class: type[ApiClient],
    token: str,
    walk: Callable[[Any], Iterable[Any]],
    *,
    query_name: str,
    **options: Any,
) -> None:
    """A page size of 0 or above the API's maximum is refused before any call; without one, the client
    asks for the maximum (``query_name`` of its first request)."""
    maximum = client_class.max_page_size
    assert maximum is not None
    for page_size in (0, maximum + 1):
        with pytest.raises(ValueError, match=f"between 1 and {maximum}"):
            client_class(fake.url, SecretStr(token), page_size=page_size, **options)
    assert fake.requests == []
    with client_class(fake.url, SecretStr(token), **options) as client:
        list(walk(client))
    assert fake.requests[0].query[query_name] == str(maximum)
