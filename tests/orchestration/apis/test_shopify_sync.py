"""The Shopify assets, made by the one API-sync factory, against the loopback fake on a temporary home: what
they report, what a missing setting does, and Shopify customers and their orders reaching customers and
purchases through dbt."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from connectors.apis.shopify import BASE_URL_SETTING, TOKEN_SETTING
from orchestration.defs.apis.shopify import ShopifyResource, shopify_customers, shopify_orders
from tests.dbt.test_dbt_build import dbt_build, prepare_landing, query
from tests.fakes.shopify import FakeShopify, customer, order

TOKEN = "shpat_orchestration_0042"
SHOPIFY = {"shopify": ShopifyResource(page_size=2, max_retries=1)}


@pytest.fixture
def store(home, monkeypatch) -> Iterator[FakeShopify]:
    with FakeShopify.running(token=TOKEN) as running:
        monkeypatch.setenv(BASE_URL_SETTING, running.url)
        monkeypatch.setenv(TOKEN_SETTING, TOKEN)
        running.add(
            "customers",
            customer(1, first_name="Jiwoo", last_name="Han", email="jiwoo@haneul-shop.kr", company="Haneul"),
            customer(2, email="buyer2@haneul-shop.kr", consent="unsubscribed"),
            customer(3, email="buyer3@haneul-shop.kr"),
        )
        running.add(
            "orders",
            order(10, customer_id=1, total_price="30000.00"),
            order(11, customer_id=1, total_price="12000.00"),
            order(12, customer_id=2, total_price="5000.00", cancelled=True),
            order(13, customer_id=3, financial_status="pending"),
        )
        yield running


def materialize(*assets: dg.AssetsDefinition, **config: bool) -> dict[str, dict]:
    run_config = {"ops": {a.op.name: {"config": config} for a in assets}} if config else None
    result = dg.materialize(list(assets), resources=SHOPIFY, run_config=run_config)
    assert result.success
    return {
        a.key.path[-1]: {
            key: value.value
            for key, value in result.asset_materializations_for_node(a.op.name)[0].metadata.items()
        }
        for a in assets
    }


def test_both_assets_land_their_pages_and_report_like_every_sync(home, store):
    reports = materialize(shopify_customers, shopify_orders)

    assert {name: (r["records_new"], r["pages"], r["dagster/row_count"]) for name, r in reports.items()} == {
        "customers": (3, 2, 3),
        "orders": (4, 2, 4),
    }
    assert reports["customers"]["skipped"] is False
    assert TOKEN not in str(reports)


@pytest.mark.parametrize("missing", [TOKEN_SETTING, BASE_URL_SETTING])
def test_without_its_token_or_store_the_sync_is_skipped_naming_the_setting(home, store, monkeypatch, missing):
    monkeypatch.delenv(missing)
    reports = materialize(shopify_customers)

    assert (reports["customers"]["skipped"], reports["customers"]["skipped_reason"]) == (
        True,
        f"{missing} is not set",
    )
    assert store.requests == []


def test_a_full_refresh_refuses_to_tombstone_a_third_of_the_customers_until_allowed(home, store):
    materialize(shopify_customers)
    store.delete("customers", 3)

    refused = dg.materialize(
        [shopify_customers],
        resources=SHOPIFY,
        run_config={"ops": {shopify_customers.op.name: {"config": {"full_refresh": True}}}},
        raise_on_error=False,
    )
    [failure] = [event for event in refused.all_events if event.is_step_failure]
    assert "1 of 3 live landed records" in str(failure.step_failure_data.error)
    refreshed = materialize(shopify_customers, full_refresh=True, allow_mass_deletion=True)["customers"]
    assert (refreshed["records_deleted"], refreshed["records_unchanged"]) == (1, 2)


def test_shopify_customers_and_their_paid_orders_reach_customers_after_dbt_build(home, store):
    prepare_landing(home)
    materialize(shopify_customers, shopify_orders)
    dbt_build(home)

    rows = query(
        home,
        "select primary_email, full_name, company, consent_email, purchase_count, total_value, currency "
        "from customers where primary_email like '%@haneul-shop.kr' order by primary_email",
    )
    assert rows == [
        ("buyer2@haneul-shop.kr", "Customer 2", None, False, 0, 0.0, None),
        ("buyer3@haneul-shop.kr", "Customer 3", None, True, 0, 0.0, None),
        ("jiwoo@haneul-shop.kr", "Jiwoo Han", "Haneul", True, 2, 42000.0, "KRW"),
    ]
    sources = query(home, "select distinct source from customer_source_records order by source")
    assert sources == [("shopify",)]
