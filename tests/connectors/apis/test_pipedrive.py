"""The Pipedrive v2 client against the loopback fake: paging, incremental reads, deletions and faults."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from connectors.apis.http import (
    ApiError,
    ApiUnavailableError,
    AuthError,
    RateLimitError,
    StuckCursorError,
)
from connectors.apis.pipedrive import (
    DEAL_STATUSES,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    Page,
    PipedriveClient,
    rfc3339,
)
from tests.connectors.apis.harness import (
    chained_pages,
    check_page_size_limits,
    client_fixture,
    fake_fixture,
    malformed_second_page,
    server_errors_after_first_page,
    wrong_token_error,
)
from tests.fakes.pipedrive import EPOCH, FakePipedrive, deal, organization, person

TOKEN = "pd-3f9a1c0e7b5d2468ace0"


fake = fake_fixture(FakePipedrive, token=TOKEN)


def make_client(fake: FakePipedrive, token: str = TOKEN, **options) -> PipedriveClient:
    defaults = {"page_size": 3, "timeout": (1.0, 1.0), "max_retries": 3, "backoff_factor": 0.01}
    return PipedriveClient(fake.url, SecretStr(token), **{"backoff_jitter": 0.01, **defaults, **options})


client = client_fixture(make_client)


def walk_persons(client: PipedriveClient) -> Iterator[Page]:
    return client.iter_pages("persons")


def walk_records(client: PipedriveClient, entity: str) -> list[dict]:
    return [record for page in client.iter_pages(entity) for record in page.records]


def test_walks_every_page_in_update_order_and_stops_at_the_last(fake, client):
    fake.add("persons", *(person(i, updated=EPOCH + timedelta(minutes=10 - i)) for i in range(1, 8)))

    pages = chained_pages(client.iter_pages("persons"), [3, 3, 1])

    assert [record["id"] for page in pages for record in page.records] == [7, 6, 5, 4, 3, 2, 1]
    assert pages[0].records[0] == fake.records["persons"][7]
    assert client.stats.pages == 3
    assert client.stats.api_calls == 3
    first, second = fake.requests[0], fake.requests[1]
    assert first.path == "/api/v2/persons"
    assert first.header("x-api-token") == TOKEN
    assert first.query == {"sort_by": "update_time", "sort_direction": "asc", "limit": "3"}
    assert second.query["cursor"] == pages[0].next_cursor


def test_a_result_that_fills_the_last_page_exactly_ends_there(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 7)))

    pages = list(client.iter_pages("persons"))

    assert [len(page.records) for page in pages] == [3, 3]
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("entity", "build"), [("persons", person), ("organizations", organization), ("deals", deal)]
)
def test_each_entity_reads_its_v2_endpoint(fake, client, entity, build):
    fake.add(entity, *(build(i) for i in range(1, 5)))

    records = walk_records(client, entity)

    assert [record["id"] for record in records] == [1, 2, 3, 4]
    assert {request.path for request in fake.requests} == {f"/api/v2/{entity}"}


def test_an_empty_result_is_one_empty_last_page(fake, client):
    pages = list(client.iter_pages("organizations"))

    assert len(pages) == 1
    assert pages[0].records == []
    assert pages[0].is_last
    assert walk_records(client, "organizations") == []


def test_an_empty_page_in_the_middle_does_not_end_the_walk(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 6)))
    fake.inject("empty_page", skip=1)

    pages = list(client.iter_pages("persons"))

    assert [len(page.records) for page in pages] == [3, 0, 2]
    assert [record["id"] for page in pages for record in page.records] == [1, 2, 3, 4, 5]


def test_updated_since_returns_only_records_updated_at_or_after_it(fake, client):
    fake.add("persons", *(person(i, updated=EPOCH + timedelta(hours=i)) for i in range(1, 9)))
    since = (EPOCH + timedelta(hours=5)).astimezone(timezone(timedelta(hours=9)))

    pages = list(client.iter_pages("persons", updated_since=since))

    assert [record["id"] for page in pages for record in page.records] == [5, 6, 7, 8]
    assert fake.requests[0].query["updated_since"] == "2025-01-01T05:00:00Z"
    assert pages[0].params == {"updated_since": "2025-01-01T05:00:00Z"}
    assert all(request.query["updated_since"] == "2025-01-01T05:00:00Z" for request in fake.requests)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 3, 1, 9, 30, 15, 999999, tzinfo=UTC), "2025-03-01T09:30:15Z"),
        ("2025-03-01T18:30:15+09:00", "2025-03-01T09:30:15Z"),
        ("2025-03-01T09:30:15Z", "2025-03-01T09:30:15Z"),
    ],
)
def test_updated_since_is_sent_as_rfc3339_utc_whole_seconds(value, expected):
    assert rfc3339(value) == expected


def test_updated_since_without_a_time_zone_is_refused(client):
    with pytest.raises(ValueError, match="time zone"):
        list(client.iter_pages("persons", updated_since=datetime(2025, 1, 1)))


def test_every_deal_status_deleted_included_comes_in_one_walk_in_update_order(fake, client):
    fake.add(
        "deals",
        deal(1, status="won", updated=EPOCH + timedelta(hours=1)),
        deal(2, status="lost", updated=EPOCH + timedelta(hours=4)),
        deal(3, updated=EPOCH + timedelta(hours=2)),
        deal(4, status="won", is_deleted=True, updated=EPOCH + timedelta(hours=3)),
    )

    kept = walk_records(client, "deals")
    pages = list(client.iter_pages("deals", statuses=DEAL_STATUSES))

    assert [record["id"] for record in kept] == [1, 3, 2]
    assert [record["id"] for page in pages for record in page.records] == [1, 3, 4, 2]
    assert all(page.params == {"status": "open,won,lost,deleted"} for page in pages)
    assert {request.query["status"] for request in fake.requests[1:]} == {"open,won,lost,deleted"}


def test_only_deals_can_be_listed_by_status(client):
    with pytest.raises(ValueError, match="only deals"):
        list(client.iter_pages("persons", statuses=DEAL_STATUSES))


def test_the_client_has_no_second_deleted_walk(client):
    with pytest.raises(TypeError):
        list(client.iter_pages("deals", include_deleted=True))


def test_a_rate_limit_storm_is_waited_out_and_measured(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 5)))
    fake.inject("rate_limit", times=2, skip=1, retry_after=1)

    records = walk_records(client, "persons")

    assert [record["id"] for record in records] == [1, 2, 3, 4]
    assert len(fake.requests) == 4
    assert client.stats.api_calls == 4
    assert client.stats.pages == 2
    assert client.stats.retries == 2
    assert client.stats.rate_limit_waits == 2
    assert client.stats.rate_limit_wait_seconds >= 1.9


def test_rate_limited_beyond_the_retries_is_a_rate_limit_error(fake):
    fake.add("persons", person(1))
    fake.inject("rate_limit", times=10, retry_after=None)

    with make_client(fake, max_retries=2) as client, pytest.raises(RateLimitError, match="after 3 attempt"):
        list(client.iter_pages("persons"))

    assert len(fake.requests) == 3


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_then_success_lose_and_repeat_nothing(fake, client, status):
    fake.add("persons", *(person(i) for i in range(1, 8)))
    fake.inject("server_error", times=2, skip=1, status=status)

    records = walk_records(client, "persons")

    assert [record["id"] for record in records] == [1, 2, 3, 4, 5, 6, 7]
    assert client.stats.retries == 2
    assert client.stats.api_calls == 5


def test_persistent_server_errors_fail_after_bounded_retries_naming_the_page(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 8)))
    fake.inject("server_error", times=100, skip=1)
    first, message = server_errors_after_first_page(fake, client.iter_pages("persons"))

    assert f"page 2 at cursor {first.next_cursor!r}" in message


def test_timeouts_are_retried_a_bounded_number_of_times_then_fail(fake):
    fake.add("persons", person(1))
    fake.inject("slow", times=10, delay=2.0)

    started = time.monotonic()
    client = make_client(fake, timeout=(1.0, 0.2), max_retries=2)
    with client, pytest.raises(ApiUnavailableError, match="timed out"):
        list(client.iter_pages("persons"))

    assert len(fake.requests) == 3
    assert time.monotonic() - started < 1.5


def test_a_wrong_token_fails_at_once_naming_the_setting(fake):
    fake.add("persons", person(1))

    wrong_token_error(
        fake,
        make_client,
        walk_persons,
        token="wrong-token-123",
        setting=TOKEN_SETTING,
        server_says="unauthorized access",
    )


def test_a_malformed_page_names_its_cursor_after_the_good_pages(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 8)))
    fake.inject("malformed", skip=1)
    first, message = malformed_second_page(client.iter_pages("persons"))

    assert f"persons page 2 at cursor {first.next_cursor!r}" in message


def test_a_cursor_that_does_not_advance_stops_with_an_error(fake, client):
    fake.add("persons", *(person(i) for i in range(1, 8)))
    fake.stuck_cursor = True

    with pytest.raises(StuckCursorError, match="already followed") as raised:
        list(itertools.islice(client.iter_pages("persons"), 10))

    assert len(fake.requests) == 2
    assert fake.requests[1].query["cursor"] in str(raised.value)


def test_the_page_size_is_pipedrives_maximum_unless_smaller_and_refused_outside_1_to_500(fake):
    fake.add("persons", person(1))
    assert MAX_PAGE_SIZE == 500

    check_page_size_limits(fake, PipedriveClient, TOKEN, walk_persons, query_name="limit")


def test_pipedrives_own_limit_error_is_reported_with_its_message(fake, client):
    with pytest.raises(ApiError, match="HTTP 400: Validation failed: limit") as raised:
        client.get_json("/api/v2/persons", {"limit": 501}, page="persons page 1")

    assert len(fake.requests) == 1
    assert not isinstance(raised.value, AuthError)


def test_unknown_entities_are_refused(client):
    with pytest.raises(ValueError, match="unknown Pipedrive entity"):
        list(client.iter_pages("leads"))
