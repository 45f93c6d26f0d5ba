"""The Shopify client and sync against the loopback fake: Link-header paging, filters only on the first
request, the access-token header, 429 with a fractional Retry-After, faults, and landing through the engine
(cursor, unchanged records, reconcile with the mass-deletion guard, the customers' contact columns)."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis.http import ApiUnavailableError, AuthError, MalformedResponseError, StuckCursorError
from connectors.apis.shopify import ShopifyClient, customer_contacts, landing_zone, sync_entity
from connectors.apis.sync_engine import MassDeletionError
from tests.connectors.apis.harness import client_fixture, fake_fixture
from tests.fakes.shopify import EPOCH, FakeShopify, customer, order

TOKEN = "shpat_0123456789abcdef"
OVERLAP = timedelta(minutes=5)


fake = fake_fixture(FakeShopify, token=TOKEN)


client = client_fixture(
    lambda fake: ShopifyClient(fake.url, SecretStr(TOKEN), page_size=2, backoff_factor=0.01)
)


def walked_ids(client: ShopifyClient, entity: str, **options) -> list[list[int]]:
    return [[record["id"] for record in page.records] for page in client.iter_pages(entity, **options)]


def test_pages_follow_the_link_header_oldest_update_first(fake, client):
    fake.add("customers", *(customer(i, updated=EPOCH + timedelta(minutes=10 - i)) for i in range(1, 6)))

    assert walked_ids(client, "customers") == [[5, 4], [3, 2], [1]]
    first, *following = fake.requests
    assert first.header("x-shopify-access-token") == TOKEN
    assert first.query == {"limit": "2", "order": "updated_at asc"}
    # Later pages send the page_info exactly as linked, with limit and nothing else.
    assert [set(request.query) for request in following] == [{"limit", "page_info"}] * 2


def test_an_incremental_walk_sends_updated_at_min_and_orders_ask_for_every_status(fake, client):
    fake.add(
        "orders", order(1, customer_id=7), order(2, customer_id=7, cancelled=True), order(3, customer_id=8)
    )
    since = EPOCH + timedelta(minutes=2)

    assert walked_ids(client, "orders", updated_since=since) == [[2, 3]]
    assert fake.requests[0].query["updated_at_min"] == "2025-01-01T00:02:00+00:00"
    assert fake.requests[0].query["status"] == "any"


@pytest.mark.parametrize(
    ("fault", "options", "error"),
    [
        ("server_error", {"times": 9}, ApiUnavailableError),
        ("server_error", {"times": 9, "status": 503}, ApiUnavailableError),
        ("malformed", {}, MalformedResponseError),
    ],
)
def test_faults_that_outlast_the_retries_fail_naming_the_page(fake, fault, options, error):
    fake.add("customers", customer(1))
    fake.inject(fault, **options)
    with (
        ShopifyClient(fake.url, SecretStr(TOKEN), max_retries=2, backoff_factor=0.01) as client,
        pytest.raises(error, match="customers page 1"),
    ):
        list(client.iter_pages("customers"))


def test_a_rate_limit_with_a_fractional_retry_after_is_waited_out_and_measured(fake, client):
    fake.add("customers", customer(1))
    fake.inject("rate_limit", retry_after="0.2")

    assert walked_ids(client, "customers") == [[1]]
    assert (client.stats.api_calls, client.stats.rate_limit_waits) == (2, 1)
    assert client.stats.rate_limit_wait_seconds >= 0.2


def test_a_wrong_token_names_the_setting_and_never_shows_the_token(fake):
    with (
        ShopifyClient(fake.url, SecretStr("shpat_wrong"), max_retries=0) as client,
        pytest.raises(AuthError, match="DRIPLINE_SHOPIFY_ACCESS_TOKEN") as raised,
    ):
        list(client.iter_pages("customers"))
    assert "shpat_wrong" not in str(raised.value)


def test_a_link_back_to_a_page_already_read_stops_the_walk(fake, client):
    fake.add("customers", *(customer(i) for i in range(1, 4)))
    fake.stuck_link = True
    with pytest.raises(StuckCursorError, match="already read"):
        list(client.iter_pages("customers"))


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"page_size": 251}, "page_size"), ({"api_version": "latest"}, "API version")],
)
def test_settings_shopify_refuses_are_refused_before_any_request(fake, options, problem):
    with pytest.raises(ValueError, match=problem):
        ShopifyClient(fake.url, SecretStr(TOKEN), **options)


def test_a_sync_lands_each_page_then_only_what_changed_since_the_landed_cursor(fake, client, tmp_path):
    fake.add("customers", *(customer(i) for i in range(1, 6)))
    zone = landing_zone(tmp_path, "customers")
    first = sync_entity(client, zone, overlap=OVERLAP)
    fake.add("customers", customer(3, updated=EPOCH + timedelta(hours=1), last_name="Renamed"), customer(6))
    second = sync_entity(client, zone, overlap=timedelta(minutes=1))

    assert (first.pages, first.records_new, first.rows_landed, len(first.batches)) == (3, 5, 5, 3)
    assert first.cursor_after == EPOCH + timedelta(minutes=5)
    assert fake.requests[-1].query.get("updated_at_min") is None  # a later page of the second walk
    assert (second.records_new, second.records_updated, second.rows_landed) == (1, 1, 2)
    # The overlap fetched customers 4 and 5 again: unchanged, so they did not land twice.
    assert second.records_unchanged == 2
    assert second.cursor_after == EPOCH + timedelta(hours=1)


def test_a_full_refresh_tombstones_a_deleted_customer_and_refuses_a_mass_deletion(fake, client, tmp_path):
    fake.add("customers", *(customer(i) for i in range(1, 11)))
    zone = landing_zone(tmp_path, "customers")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.delete("customers", 4)
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    for customer_id in (1, 2, 3, 5):
        fake.delete("customers", customer_id)

    assert (full.records_deleted, full.records_unchanged, full.rows_landed) == (1, 9, 1)
    tombstone = pq.read_table(zone.batch_path(full.batches[-1])).to_pylist()
    assert [(row["record_id"], row["is_deleted"], row["email"]) for row in tombstone] == [
        ("4", True, "customer4@haneul-shop.kr")
    ]
    with pytest.raises(MassDeletionError, match="Shopify customers: 4 of 9"):
        sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    allowed = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, allow_mass_deletion=True)
    assert allowed.records_deleted == 4


def test_orders_land_as_returned_without_contact_columns(fake, client, tmp_path):
    fake.add("orders", order(1, customer_id=7, total_price="45000.00"))
    zone = landing_zone(tmp_path, "orders")
    report = sync_entity(client, zone, overlap=OVERLAP)

    [row] = pq.read_table(zone.batch_path(report.batches[0])).to_pylist()
    assert (row["_source"], row["_entity"], row["record_id"]) == ("shopify", "orders", "1")
    assert '"total_price":"45000.00"' in row["record"]
    assert "email" not in row


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            customer(1, first_name="민수", last_name="김", email=" Minsu.Kim@Haneul.kr ", company="한울식품"),
            {
                "full_name": "김민수",
                "email": "minsu.kim@haneul.kr",
                "company": "한울식품",
                "consent_email": True,
            },
        ),
        (
            customer(2, phone="010-2345-6789", consent="unsubscribed"),
            {"phone": "+821023456789", "consent_email": False},
        ),
        (
            customer(3, consent="not_subscribed"),
            {"consent_email": False, "raw_consent_email": "unsubscribed"},
        ),
        (customer(4, consent="pending"), {"consent_email": None, "raw_consent_email": None}),
    ],
)
def test_customer_contact_columns_are_normalised_like_a_spreadsheet_row(record, expected):
    [row] = customer_contacts([record]).to_pylist()

    assert {key: row[key] for key in expected} == expected
    assert (row["source_record_id"], row["rejection_reason"]) == (str(record["id"]), None)


def test_a_customer_with_the_default_address_phone_only_keeps_it():
    record = customer(5)
    record["default_address"]["phone"] = "02-555-0100"

    [row] = customer_contacts([record]).to_pylist()
    assert row["phone"] == "+8225550100"
