"""The HubSpot CRM v3 client against the loopback fake: list paging, search windows, deletions and faults."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from connectors.apis.http import (
    ApiError,
    AuthError,
    MalformedResponseError,
    RateLimitError,
    StuckCursorError,
)
from connectors.apis.hubspot import (
    DEFAULT_PROPERTIES,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    HubSpotClient,
    epoch_ms,
    modified_ms,
)
from tests.connectors.apis.harness import (
    chained_pages,
    client_fixture,
    counted,
    fake_fixture,
    malformed_second_page,
    server_errors_after_first_page,
    wrong_token_error,
)
from tests.fakes.hubspot import EPOCH, FakeHubSpot, PostRequest, company, contact, deal, millis

TOKEN = "pat-na1-5e2d9c1a-7b40-4f3e-9d88-0a1b2c3d4e5f"
CAP = 50


fake = fake_fixture(FakeHubSpot, token=TOKEN, search_cap=CAP)


def make_client(fake: FakeHubSpot, token: str = TOKEN, **options) -> HubSpotClient:
    defaults = {
        "page_size": 3,
        "search_page_size": 10,
        "search_result_cap": CAP,
        "timeout": (1.0, 1.0),
        "max_retries": 3,
        "backoff_factor": 0.01,
        "backoff_jitter": 0.01,
    }
    return HubSpotClient(fake.url, SecretStr(token), **{**defaults, **options})


client = client_fixture(make_client)


def ids(pages) -> list[str]:
    return [record["id"] for page in pages for record in page.records]


def search_bodies(fake: FakeHubSpot) -> list[dict]:
    return [json.loads(request.body) for request in fake.requests if isinstance(request, PostRequest)]


def test_walks_every_list_page_following_paging_next_after(fake, client):
    fake.add("contacts", *(contact(i) for i in range(1, 8)))

    pages = chained_pages(client.iter_pages("contacts"), [3, 3, 1])

    assert ids(pages) == ["1", "2", "3", "4", "5", "6", "7"]
    assert client.stats.pages == client.stats.api_calls == 3
    first, second = fake.requests[0], fake.requests[1]
    assert first.path == "/crm/v3/objects/contacts"
    assert first.header("authorization") == f"Bearer {TOKEN}"
    assert first.query == {
        "limit": "3",
        "properties": ",".join(DEFAULT_PROPERTIES["contacts"]),
        "archived": "false",
        "associations": "companies",
    }
    assert second.query["after"] == pages[0].next_cursor


def test_records_come_back_as_hubspot_sent_them(fake, client):
    fake.add("contacts", contact(1, email="jiwoo@example.co.kr", mobilephone="010-1234-5678"))

    (record,) = client.iter_records("contacts")

    assert record["id"] == "1"
    assert record["archived"] is False
    assert record["createdAt"] == "2025-01-01T00:00:00.000Z"
    assert record["properties"]["email"] == "jiwoo@example.co.kr"
    assert record["properties"]["mobilephone"] == "010-1234-5678"
    assert record["properties"]["lastmodifieddate"] == "2025-01-01T00:01:00.000Z"
    assert set(record["properties"]) == {*DEFAULT_PROPERTIES["contacts"], "hs_object_id"}


def test_a_result_that_fills_the_last_page_exactly_ends_there(fake, client):
    fake.add("companies", *(company(i) for i in range(1, 7)))

    pages = list(client.iter_pages("companies"))

    assert [len(page.records) for page in pages] == [3, 3]
    assert len(fake.requests) == 2


def test_an_empty_result_is_one_empty_last_page(fake, client):
    pages = list(client.iter_pages("deals"))

    assert len(pages) == 1
    assert pages[0].records == []
    assert pages[0].is_last
    assert list(client.iter_records("deals", modified_since=EPOCH)) == []


def test_associations_come_with_the_full_walk(fake, client):
    fake.add("contacts", contact(1), contact(2))
    fake.add("companies", company(10))
    fake.add("deals", deal(20))
    fake.associate("contacts", 1, "companies", 10)
    fake.associate("deals", 20, "contacts", 1)
    fake.associate("deals", 20, "companies", 10)

    contacts = {record["id"]: record for record in client.iter_records("contacts")}
    (won,) = client.iter_records("deals")

    assert contacts["1"]["associations"] == {
        "companies": {"results": [{"id": "10", "type": "contact_to_company"}]}
    }
    assert "associations" not in contacts["2"]
    assert won["associations"]["contacts"]["results"][0]["id"] == "1"
    assert won["associations"]["companies"]["results"][0]["id"] == "10"
    assert fake.requests[-1].query["associations"] == "contacts,companies"


def test_asking_search_for_associations_is_refused(client):
    with pytest.raises(ValueError, match="no associations"):
        list(client.iter_pages("deals", modified_since=EPOCH, associations=["contacts"]))


def test_modified_since_searches_changes_oldest_first(fake, client):
    fake.add("contacts", *(contact(i, modified=EPOCH + timedelta(hours=9 - i)) for i in range(1, 9)))
    since = (EPOCH + timedelta(hours=3)).astimezone(timezone(timedelta(hours=9)))

    pages = list(client.iter_pages("contacts", modified_since=since))

    assert ids(pages) == ["6", "5", "4", "3", "2", "1"]
    assert pages[-1].is_last
    assert pages[0].params == {"lastmodifieddate": f"GTE {millis(EPOCH + timedelta(hours=3))}"}
    request = fake.requests[0]
    assert request.method == "POST"
    assert request.path == "/crm/v3/objects/contacts/search"
    assert request.header("authorization") == f"Bearer {TOKEN}"
    assert search_bodies(fake)[0] == {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1735700400000"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": list(DEFAULT_PROPERTIES["contacts"]),
        "limit": 10,
    }


@pytest.mark.parametrize(("entity", "build"), [("companies", company), ("deals", deal)])
def test_companies_and_deals_search_on_hs_lastmodifieddate(fake, client, entity, build):
    fake.add(entity, *(build(i) for i in range(1, 31)))

    records = list(client.iter_records(entity, modified_since=EPOCH + timedelta(minutes=5)))

    assert [record["id"] for record in records] == [str(i) for i in range(5, 31)]
    body = search_bodies(fake)[0]
    assert body["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert [search_bodies(fake)[1].get("after"), search_bodies(fake)[2].get("after")] == ["10", "20"]


def test_search_pages_past_the_cap_by_restarting_from_the_last_modification_time(fake, client):
    fake.add("contacts", *(contact(i, modified=EPOCH + timedelta(seconds=i)) for i in range(1, 131)))

    pages = list(client.iter_pages("contacts", modified_since=EPOCH))

    assert ids(pages) == [str(i) for i in range(1, 131)]
    assert all(int(body.get("after", 0)) + body["limit"] <= CAP for body in search_bodies(fake))
    lowers = [
        body["filterGroups"][0]["filters"][0]["value"] for body in search_bodies(fake) if "after" not in body
    ]
    assert lowers == [str(millis(EPOCH + timedelta(seconds=s))) for s in (0, 50, 99)]
    assert sum(page.duplicates for page in pages) == 2
    assert [page.is_last for page in pages].count(True) == 1
    assert pages[-1].is_last


def test_records_tied_on_a_restart_boundary_are_neither_lost_nor_repeated(fake, client):
    tied = EPOCH + timedelta(minutes=1)
    fake.add(
        "contacts",
        *(contact(i, modified=EPOCH + timedelta(seconds=i)) for i in range(1, 41)),
        *(contact(i, modified=tied) for i in range(41, 71)),
        *(contact(i, modified=tied + timedelta(seconds=i)) for i in range(71, 131)),
    )

    records = list(client.iter_records("contacts", modified_since=EPOCH))

    assert sorted(int(record["id"]) for record in records) == list(range(1, 131))
    restart = search_bodies(fake)[5]
    assert restart["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate",
        "operator": "GTE",
        "value": str(millis(tied)),
    }


def test_more_tied_records_than_one_query_holds_are_walked_by_id(fake, client):
    tied = EPOCH + timedelta(minutes=1)
    fake.add(
        "contacts",
        contact(1, modified=EPOCH),
        *(contact(i, modified=tied) for i in range(2, 122)),
        *(contact(i, modified=tied + timedelta(seconds=1)) for i in range(122, 131)),
    )

    records = list(client.iter_records("contacts", modified_since=EPOCH))

    assert sorted(int(record["id"]) for record in records) == list(range(1, 131))
    assert len(records) == 130
    tie_walks = [body for body in search_bodies(fake) if body["sorts"][0]["propertyName"] == "hs_object_id"]
    assert tie_walks
    assert all(
        body["filterGroups"][0]["filters"][0]
        == {"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(millis(tied))}
        for body in tie_walks
    )
    final = search_bodies(fake)[-1]["filterGroups"][0]["filters"]
    assert final == [{"propertyName": "lastmodifieddate", "operator": "GT", "value": str(millis(tied))}]


def test_archived_records_come_in_a_second_walk_only_when_asked(fake, client):
    fake.add("contacts", contact(1), contact(2), contact(3, archived=True), contact(4), contact(5))

    kept = [record["id"] for record in client.iter_records("contacts")]
    pages = list(client.iter_pages("contacts", include_archived=True))

    assert kept == ["1", "2", "4", "5"]
    assert ids(pages) == ["1", "2", "4", "5", "3"]
    assert [page.is_last for page in pages] == [False, False, True]
    assert [page.number for page in pages] == [1, 2, 3]
    assert pages[-1].params == {"archived": "true"}
    assert pages[-1].records[0]["archived"] is True
    assert "archivedAt" in pages[-1].records[0]
    assert fake.requests[-1].query["archived"] == "true"


def test_an_incremental_read_adds_the_archived_walk_search_never_shows(fake, client):
    fake.add("deals", deal(1), deal(2, archived=True))

    records = list(client.iter_records("deals", modified_since=EPOCH, include_archived=True))

    assert [(record["id"], record["archived"]) for record in records] == [("1", False), ("2", True)]
    assert [request.method for request in fake.requests] == ["POST", "GET"]


def test_a_rate_limited_list_page_is_waited_out_and_measured(fake, client):
    fake.add("contacts", *(contact(i) for i in range(1, 5)))
    fake.inject("rate_limit", skip=1, retry_after=1)

    records = list(client.iter_records("contacts"))

    assert [record["id"] for record in records] == ["1", "2", "3", "4"]
    assert len(fake.requests) == 3
    assert counted(client) == {"api_calls": 3, "pages": 2, "retries": 1, "rate_limit_waits": 1}
    assert client.stats.rate_limit_wait_seconds >= 0.9


def test_a_rate_limited_search_is_retried_too(fake, client):
    fake.add("contacts", *(contact(i) for i in range(1, 16)))
    fake.inject("rate_limit", times=2, skip=1, method="POST", retry_after=None)

    records = list(client.iter_records("contacts", modified_since=EPOCH))

    assert len(records) == 15
    assert [request.method for request in fake.requests] == ["POST"] * 4
    assert search_bodies(fake)[1] == search_bodies(fake)[2] == search_bodies(fake)[3]
    assert client.stats.retries == client.stats.rate_limit_waits == 2
    assert client.stats.api_calls == 4


def test_a_search_rate_limited_beyond_the_retries_is_a_rate_limit_error(fake):
    fake.inject("rate_limit", times=10, method="POST", retry_after=None)

    with make_client(fake, max_retries=2) as client, pytest.raises(RateLimitError) as raised:
        list(client.iter_pages("contacts", modified_since=EPOCH))

    assert len(fake.requests) == 3
    assert "after 3 attempt(s)" in str(raised.value)
    assert "ten_secondly_rolling" in str(raised.value)
    assert "POST" in str(raised.value)


@pytest.mark.parametrize(("method", "status"), [("GET", 500), ("GET", 502), ("POST", 500)])
def test_server_errors_then_success_lose_and_repeat_nothing(fake, client, method, status):
    fake.add("contacts", *(contact(i) for i in range(1, 26)))
    fake.inject("server_error", times=2, skip=1, method=method, status=status)
    since = EPOCH if method == "POST" else None

    records = list(client.iter_records("contacts", modified_since=since))

    assert [record["id"] for record in records] == [str(i) for i in range(1, 26)]
    assert client.stats.retries == 2
    assert client.stats.api_calls == client.stats.pages + 2


def test_persistent_server_errors_fail_after_bounded_retries_naming_the_page(fake, client):
    fake.add("contacts", *(contact(i) for i in range(1, 8)))
    fake.inject("server_error", times=100, skip=1)
    first, message = server_errors_after_first_page(fake, client.iter_pages("contacts"))

    assert f"contacts page 2 after {first.next_cursor!r}" in message


@pytest.mark.parametrize("since", [None, EPOCH])
def test_a_wrong_token_fails_at_once_naming_the_setting(fake, since):
    fake.add("contacts", contact(1))

    wrong_token_error(
        fake,
        make_client,
        lambda client: client.iter_pages("contacts", modified_since=since),
        token="pat-na1-wrong-0000",
        setting=TOKEN_SETTING,
        server_says="Authentication credentials not found",
    )


@pytest.mark.parametrize("since", [None, EPOCH])
def test_a_malformed_page_is_named_after_the_good_pages(fake, client, since):
    fake.add("contacts", *(contact(i) for i in range(1, 31)))
    fake.inject("malformed", skip=1)
    first, message = malformed_second_page(client.iter_pages("contacts", modified_since=since))

    assert f"page 2 after {first.next_cursor!r}" in message


def test_a_search_record_without_its_modification_time_is_malformed(fake, client):
    fake.inject(
        "malformed", body=b'{"total": 1, "results": [{"id": "9", "properties": {"email": "a@b.kr"}}]}'
    )

    with pytest.raises(MalformedResponseError, match="record '9' without a readable lastmodifieddate"):
        list(client.iter_pages("contacts", modified_since=EPOCH))


@pytest.mark.parametrize("since", [None, EPOCH])
def test_an_after_that_does_not_advance_stops_with_an_error(fake, client, since):
    fake.add("contacts", *(contact(i) for i in range(1, 31)))
    fake.stuck_after = True

    with pytest.raises(StuckCursorError) as raised:
        list(itertools.islice(client.iter_pages("contacts", modified_since=since), 10))

    assert len(fake.requests) == 2
    assert "stopping instead of looping" in str(raised.value)


def test_the_default_page_sizes_are_hubspots_maximums(fake):
    fake.add("contacts", contact(1))

    with HubSpotClient(fake.url, SecretStr(TOKEN)) as client:
        list(client.iter_pages("contacts"))
        list(client.iter_pages("contacts", modified_since=EPOCH))

    assert fake.requests[0].query["limit"] == str(MAX_PAGE_SIZE)
    assert search_bodies(fake)[0]["limit"] == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page_size": 0}, "page_size must be between 1 and 100"),
        ({"page_size": 101}, "page_size must be between 1 and 100"),
        ({"search_page_size": 201}, "search_page_size must be between 1 and 200"),
        ({"search_result_cap": 10_001}, "search_result_cap"),
    ],
)
def test_sizes_outside_hubspots_limits_are_refused_before_any_call(fake, options, message):
    with pytest.raises(ValueError, match=message):
        HubSpotClient(fake.url, SecretStr(TOKEN), **options)

    assert fake.requests == []


def test_hubspots_own_limit_error_is_reported_with_its_message(fake, client):
    with pytest.raises(ApiError, match="HTTP 400: limit must be between 1 and 100") as raised:
        client.get_json("/crm/v3/objects/contacts", {"limit": 101}, page="contacts page 1")

    assert not isinstance(raised.value, AuthError)


def test_paging_a_search_past_the_cap_is_hubspots_400(fake, client):
    with pytest.raises(ApiError, match="HTTP 400: Paging past 50 results"):
        client.post_json("/crm/v3/objects/contacts/search", {"limit": 10, "after": "50"}, page="p")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))), 1735689600000),
        ("2025-01-01T00:00:00.250Z", 1735689600250),
        (1735689600000, 1735689600000),
    ],
)
def test_modified_since_is_sent_as_epoch_milliseconds(value, expected):
    assert epoch_ms(value) == expected


def test_modified_since_without_a_time_zone_is_refused(client):
    with pytest.raises(ValueError, match="time zone"):
        list(client.iter_pages("contacts", modified_since=datetime(2025, 1, 1)))


def test_modified_ms_reads_the_entitys_own_property():
    assert modified_ms("contacts", contact(1)) == millis(EPOCH + timedelta(minutes=1))
    assert modified_ms("deals", deal(2)) == millis(EPOCH + timedelta(minutes=2))
    assert modified_ms("deals", {"properties": {"lastmodifieddate": "2025-01-01T00:00:00Z"}}) is None
    assert datetime.fromtimestamp(modified_ms("companies", company(3)) / 1000, UTC) == EPOCH + timedelta(
        minutes=3
    )


def test_unknown_object_types_are_refused(client):
    with pytest.raises(ValueError, match="unknown HubSpot object type"):
        list(client.iter_pages("tickets"))
