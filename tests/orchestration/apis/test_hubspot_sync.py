"""The HubSpot sync assets against the loopback fake on a temporary home, through dbt to customers."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import dagster as dg
import pytest

from connectors.apis.hubspot import TOKEN_SETTING, landing_zone
from orchestration.defs.apis.hubspot import (
    HubSpotResource,
    hubspot_companies,
    hubspot_contacts,
    hubspot_deals,
)
from tests.dbt.test_dbt_build import SHEETS, at, dbt_build, land, prepare_landing, query, sheet
from tests.fakes.hubspot import EPOCH, FakeHubSpot, PostRequest, company, contact, deal, millis
from tests.orchestration.apis.harness import kill_after_pages, landed_record_ids, node_metadata, run_syncs

TOKEN = "pat-na1-orchestration-42"
ASSETS = [hubspot_contacts, hubspot_companies, hubspot_deals]
RESOURCES = {"hubspot": HubSpotResource(page_size=2, search_page_size=2, max_retries=1)}


@pytest.fixture
def fake(home, monkeypatch) -> Iterator[FakeHubSpot]:
    with FakeHubSpot.running(token=TOKEN) as running:
        monkeypatch.setenv("DRIPLINE_HUBSPOT_BASE_URL", running.url)
        monkeypatch.setenv(TOKEN_SETTING, TOKEN)
        running.add("contacts", *(person(i) for i in range(1, 6)))
        running.add("companies", company(10, name="Haneul Foods"))
        running.add("deals", deal(100), deal(101, stage="closedlost"))
        running.associate("contacts", 1, "companies", 10)
        running.associate("deals", 100, "contacts", 1)
        yield running


def person(record_id: int, **values) -> dict:
    """A contact with its own name, email and mobile phone, so contacts never merge with each other."""
    values.setdefault("email", f"c{record_id}@haneul.kr")
    return contact(record_id, firstname=f"Person{record_id:02d}", lastname="Kim", phone=None, **values)


sync = partial(run_syncs, RESOURCES)
metadata = partial(node_metadata, source="hubspot")
landed_ids = partial(landed_record_ids, source="hubspot")


def test_the_three_assets_land_every_page_and_report_the_sync(home, fake):
    result = sync(*ASSETS)

    assert result.success
    contacts = metadata(result, "contacts")
    assert (contacts["records_new"], contacts["pages"], contacts["api_calls"]) == (5, 4, 4)
    assert contacts["dagster/row_count"] == 5
    assert contacts["cursor_before"] is None
    assert contacts["cursor_after"] == (EPOCH + timedelta(minutes=5)).isoformat()
    assert (contacts["retries"], contacts["rate_limit_wait_seconds"]) == (0, 0.0)
    assert metadata(result, "deals")["records_new"] == 2
    assert metadata(result, "companies")["records_new"] == 1
    assert sorted(landed_ids(home, "contacts")) == ["1", "2", "3", "4", "5"]
    assert TOKEN not in str([metadata(result, entity) for entity in ("contacts", "companies", "deals")])


def test_a_second_run_searches_from_the_landed_cursor(home, fake, monkeypatch):
    monkeypatch.setenv("DRIPLINE_SYNC_OVERLAP_MINUTES", "1")
    sync(*ASSETS)
    fake.add("contacts", person(6, modified=EPOCH + timedelta(hours=2)))
    fake.requests.clear()

    contacts = metadata(sync(hubspot_contacts), "contacts")

    [search, *_] = [r for r in fake.requests if isinstance(r, PostRequest)]
    [bound] = json.loads(search.body)["filterGroups"][0]["filters"]
    assert (bound["operator"], bound["value"]) == ("GTE", str(millis(EPOCH + timedelta(minutes=4))))
    assert contacts["cursor_before"] == (EPOCH + timedelta(minutes=5)).isoformat()
    assert (contacts["records_new"], contacts["records_updated"], contacts["records_unchanged"]) == (1, 0, 2)
    assert contacts["cursor_after"] == (EPOCH + timedelta(hours=2)).isoformat()


def test_a_full_refresh_lists_everything_and_lands_nothing_unchanged(home, fake):
    sync(*ASSETS)
    fake.requests.clear()

    contacts = metadata(sync(hubspot_contacts, full_refresh=True), "contacts")

    assert not any(isinstance(r, PostRequest) for r in fake.requests)
    assert (contacts["records_fetched"], contacts["records_unchanged"], contacts["rows_landed"]) == (5, 5, 0)


def test_without_a_token_the_sync_is_skipped_not_failed(home, monkeypatch, capfd):
    monkeypatch.delenv(TOKEN_SETTING, raising=False)

    result = sync(*ASSETS)

    assert result.success
    for entity in ("contacts", "companies", "deals"):
        skipped = metadata(result, entity)
        assert skipped["skipped"] is True and TOKEN_SETTING in skipped["skipped_reason"]
        assert skipped["dagster/row_count"] == 0
        assert (home / "landing" / "hubspot" / entity / "_schema.parquet").exists()
    assert TOKEN_SETTING in capfd.readouterr().err


def test_a_rejected_token_fails_the_asset_naming_the_setting(home, fake, monkeypatch):
    monkeypatch.setenv(TOKEN_SETTING, "not-the-token")

    with pytest.raises(dg.Failure, match=TOKEN_SETTING) as raised:
        sync(hubspot_contacts)

    assert raised.value.allow_retries is False
    assert "not-the-token" not in str(raised.value)
    assert len(fake.requests) == 1


def test_hubspot_contacts_merge_with_spreadsheets_carry_deals_and_companies_and_archived_ones_leave(
    home, fake
):
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet-1",
        at("2024-06-01"),
        sheet("s1", "Person01 Kim", "c1@haneul.kr", company="Haneul"),
    )
    sync(*ASSETS)
    dbt_build(home)
    merged = "select sources, record_count from customers where primary_email = 'c1@haneul.kr'"
    assert query(home, merged) == [("hubspot,spreadsheets", 2)]
    assert query(home, "select count(*) from customers where primary_email = 'c3@haneul.kr'") == [(1,)]
    sales = (
        "select company, industry, company_size, purchase_count, total_value, currency, last_purchase_at"
        " from customers where primary_email = 'c1@haneul.kr'"
    )
    [(name, industry, size, count, total, currency, last_purchase)] = query(home, sales)
    assert (name, industry, size) == ("Haneul Foods", "COMPUTER_SOFTWARE", "25")
    assert (count, total, currency) == (1, 1_500_000.0, "KRW")  # the won deal; the lost one does not count
    assert last_purchase == EPOCH + timedelta(days=1)

    fake.add("contacts", person(3, archived=True, modified=EPOCH + timedelta(hours=3)))
    sync(hubspot_contacts)
    dbt_build(home)

    assert query(home, "select count(*) from customers where primary_email = 'c3@haneul.kr'") == [(0,)]
    assert query(home, "select count(*) from customer_source_records where source = 'hubspot'") == [(4,)]


SYNC_IN_A_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from pathlib import Path
    from pydantic import SecretStr
    from connectors.apis.hubspot import HubSpotClient
    from connectors.apis.hubspot import landing_zone, sync_entity

    url, token, landing = sys.argv[1:4]
    with HubSpotClient(url, SecretStr(token), page_size=2, timeout=(5.0, 120.0)) as client:
        sync_entity(client, landing_zone(Path(landing), "contacts"), overlap=timedelta(minutes=5))
    """
)


def test_a_sync_killed_half_way_and_run_again_lands_every_contact_once_downstream(home, fake):
    fake.add("contacts", *(person(i) for i in range(6, 12)))  # 11 contacts, 6 pages
    fake.inject("slow", skip=3, delay=60.0)  # the fourth page hangs until the child is killed
    prepare_landing(home)
    zone = landing_zone(home / "landing", "contacts")
    kill_after_pages(SYNC_IN_A_CHILD, [fake.url, TOKEN, str(home / "landing")], zone)
    assert sorted(landed_ids(home, "contacts"), key=int) == [str(i) for i in range(1, 7)]

    contacts = metadata(sync(hubspot_contacts), "contacts")
    dbt_build(home)

    assert contacts["cursor_before"] == (EPOCH + timedelta(minutes=6)).isoformat()
    assert contacts["records_new"] == 5
    assert contacts["records_unchanged"] > 0  # the overlap fetched some contacts again…
    assert len(landed_ids(home, "contacts")) == 11  # …without landing them twice…
    rows = query(
        home,
        "select source_record_id, count(*) from customer_source_records where source = 'hubspot' group by 1",
    )
    assert sorted(rows, key=lambda row: int(row[0])) == [
        (str(i), 1) for i in range(1, 12)
    ]  # …once downstream
    assert query(home, "select count(*), count(distinct source_record_id) from stg_hubspot__contacts") == [
        (11, 11)
    ]


def test_the_hubspot_assets_are_in_the_code_location_and_feed_their_dbt_staging(dbt_manifest):
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    for entity in ("contacts", "companies", "deals"):
        key = dg.AssetKey(["hubspot", entity])
        node = graph.get(key)
        assert node.is_materializable and node.group_name == "ingest", entity
        assert node.owners == ["team:data-engineering"] and node.description, entity
        assert key in graph.get(dg.AssetKey([f"stg_hubspot__{entity}"])).parent_keys
    selected = definitions.resolve_job_def("pipeline_job").asset_layer.selected_asset_keys
    assert dg.AssetKey(["hubspot", "contacts"]) in selected
