"""The HubSpot sync assets against the loopback fake on a temporary home, through dbt to customers."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial

from connectors.apis.hubspot import ENTITIES, TOKEN_SETTING, HubSpotClient
from orchestration.defs.apis.hubspot import (
    HubSpotResource,
    hubspot_companies,
    hubspot_contacts,
    hubspot_deals,
)
from tests.dbt.test_dbt_build import SHEETS, at, dbt_build, land, prepare_landing, query, sheet
from tests.fakes.hubspot import EPOCH, FakeHubSpot, PostRequest, company, contact, deal, millis
from tests.orchestration.apis import harness
from tests.orchestration.apis.harness import node_metadata, run_syncs

TOKEN = "pat-na1-orchestration-42"
ASSETS = [hubspot_contacts, hubspot_companies, hubspot_deals]
RESOURCES = {"hubspot": HubSpotResource(page_size=2, search_page_size=2, max_retries=1)}


def crm(fake: FakeHubSpot) -> None:
    fake.add("contacts", *(person(i) for i in range(1, 6)))
    fake.add("companies", company(10, name="Haneul Foods"))
    fake.add("deals", deal(100), deal(101, stage="closedlost"))
    fake.associate("contacts", 1, "companies", 10)
    fake.associate("deals", 100, "contacts", 1)


fake = harness.configured_fake(
    FakeHubSpot, {"DRIPLINE_HUBSPOT_BASE_URL": "{url}", TOKEN_SETTING: TOKEN}, crm, token=TOKEN
)


def person(record_id: int, **values) -> dict:
    """A contact with its own name, email and mobile phone, so contacts never merge with each other."""
    values.setdefault("email", f"c{record_id}@haneul.kr")
    return contact(record_id, firstname=f"Person{record_id:02d}", lastname="Kim", phone=None, **values)


sync = partial(run_syncs, RESOURCES)
metadata = partial(node_metadata, source="hubspot")


def test_the_three_assets_land_every_page_and_report_the_sync(home, fake):
    result = sync(*ASSETS)

    assert (metadata(result, "deals")["records_new"], metadata(result, "companies")["records_new"]) == (2, 1)
    first_contacts = {"records": 5, "pages": 4, "cursor_after": EPOCH + timedelta(minutes=5)}
    harness.assert_first_sync(result, home, TOKEN, source="hubspot", entity="contacts", **first_contacts)


def test_a_second_run_searches_from_the_landed_cursor(home, fake, monkeypatch):
    monkeypatch.setenv("DRIPLINE_SYNC_OVERLAP_MINUTES", "1")
    sync(*ASSETS)
    fake.add("contacts", person(6, modified=EPOCH + timedelta(hours=2)))
    fake.requests.clear()

    contacts = metadata(sync(hubspot_contacts), "contacts")

    [search, *_] = [r for r in fake.requests if isinstance(r, PostRequest)]
    [bound] = json.loads(search.body)["filterGroups"][0]["filters"]
    assert (bound["operator"], bound["value"]) == ("GTE", str(millis(EPOCH + timedelta(minutes=4))))
    harness.assert_one_new_since(
        contacts, cursor_before=EPOCH + timedelta(minutes=5), cursor_after=EPOCH + timedelta(hours=2)
    )


def test_a_full_refresh_lists_everything_and_lands_nothing_unchanged(home, fake):
    sync(*ASSETS)
    fake.requests.clear()

    contacts = metadata(sync(hubspot_contacts, full_refresh=True), "contacts")

    assert not any(isinstance(r, PostRequest) for r in fake.requests)
    assert (contacts["records_fetched"], contacts["records_unchanged"], contacts["rows_landed"]) == (5, 5, 0)


def test_without_a_token_the_sync_is_skipped_not_failed(home, monkeypatch, capfd):
    skipped = {"source": "hubspot", "entities": ENTITIES, "monkeypatch": monkeypatch, "capfd": capfd}
    harness.assert_skipped_without(TOKEN_SETTING, partial(sync, *ASSETS), home, **skipped)


def test_a_rejected_token_fails_the_asset_naming_the_setting(home, fake, monkeypatch):
    harness.rejected_token_failure(monkeypatch, fake, TOKEN_SETTING, lambda: sync(hubspot_contacts))


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


def test_a_sync_killed_half_way_and_run_again_lands_every_contact_once_downstream(home, fake):
    fake.add("contacts", *(person(i) for i in range(6, 12)))  # 11 contacts, 6 pages

    resume = partial(sync, hubspot_contacts)
    contacts = harness.kill_and_resume(home, fake, TOKEN, HubSpotClient, "contacts", resume)

    assert contacts["cursor_before"] == (EPOCH + timedelta(minutes=6)).isoformat()


def test_the_hubspot_assets_are_in_the_code_location_and_feed_their_dbt_staging(dbt_manifest):
    harness.assert_in_the_code_location("hubspot", ENTITIES)
