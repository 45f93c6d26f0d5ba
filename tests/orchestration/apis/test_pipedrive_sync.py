"""The Pipedrive sync assets against the loopback fake on a temporary home, through dbt to customers."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import dagster as dg
import pytest

from connectors.apis.pipedrive import ENTITIES, TOKEN_SETTING, PipedriveClient
from orchestration.defs.apis.pipedrive import (
    PipedriveResource,
    pipedrive_deals,
    pipedrive_organizations,
    pipedrive_persons,
)
from tests.dbt.test_dbt_build import dbt_build, prepare_landing, query
from tests.fakes.pipedrive import EPOCH, FakePipedrive, deal, organization, person
from tests.orchestration.apis import harness
from tests.orchestration.apis.harness import node_metadata, run_syncs

TOKEN = "pd-orchestration-token-42"
ASSETS = [pipedrive_organizations, pipedrive_persons, pipedrive_deals]
RESOURCES = {"pipedrive": PipedriveResource(page_size=2, max_retries=1)}


def crm(fake: FakePipedrive) -> None:
    fake.add("organizations", organization(10, name="Haneul Foods"))
    fake.add(
        "persons", *(person(i, email=f"p{i}@haneul.kr", org_id=10 if i == 1 else None) for i in range(1, 6))
    )
    fake.add(
        "deals",
        deal(100, status="won", value=1000.0, person_id=1),
        deal(101, status="won", value=500.0, person_id=1),
        deal(102, status="lost", person_id=2),
    )


SETTINGS = {"DRIPLINE_PIPEDRIVE_BASE_URL": "{url}", TOKEN_SETTING: TOKEN}
fake = harness.configured_fake(FakePipedrive, SETTINGS, crm, token=TOKEN)


sync = partial(run_syncs, RESOURCES)
metadata = partial(node_metadata, source="pipedrive")


def test_the_three_assets_land_every_page_and_report_the_sync(home, fake):
    result = sync(*ASSETS)

    assert metadata(result, "deals")["records_new"] == 3
    first_persons = {"records": 5, "pages": 3, "cursor_after": EPOCH + timedelta(minutes=5)}
    harness.assert_first_sync(result, home, TOKEN, source="pipedrive", entity="persons", **first_persons)


def test_a_second_run_fetches_only_what_changed_since_the_landed_cursor(home, fake, monkeypatch):
    monkeypatch.setenv("DRIPLINE_SYNC_OVERLAP_MINUTES", "1")
    sync(*ASSETS)
    fake.add("persons", person(6, email="p6@haneul.kr", updated=EPOCH + timedelta(hours=2)))
    fake.requests.clear()

    persons = metadata(sync(pipedrive_persons), "persons")

    assert fake.requests[0].query["updated_since"] == "2025-01-01T00:04:00Z"
    harness.assert_one_new_since(
        persons, cursor_before=EPOCH + timedelta(minutes=5), cursor_after=EPOCH + timedelta(hours=2)
    )
    assert persons["records_fetched"] == 3  # persons 4 and 5 again, inside the overlap, and person 6


def test_a_full_refresh_ignores_the_cursor(home, fake):
    sync(*ASSETS)
    fake.requests.clear()

    persons = metadata(sync(pipedrive_persons, full_refresh=True), "persons")

    assert all("updated_since" not in request.query for request in fake.requests)
    assert persons["records_fetched"] == 5
    assert persons["records_unchanged"] == 5


def test_without_a_token_the_sync_is_skipped_not_failed(home, monkeypatch, capfd):
    skipped = {"source": "pipedrive", "entities": ENTITIES, "monkeypatch": monkeypatch, "capfd": capfd}
    harness.assert_skipped_without(TOKEN_SETTING, partial(sync, *ASSETS), home, **skipped)


def test_a_rejected_token_fails_the_asset_naming_the_setting(home, fake, monkeypatch):
    harness.rejected_token_failure(monkeypatch, fake, TOKEN_SETTING, lambda: sync(pipedrive_persons))


def test_deleted_persons_and_deals_leave_customers_after_dbt_build(home, fake):
    prepare_landing(home)
    sync(*ASSETS)
    dbt_build(home)
    customer = (
        "select purchase_count, total_value, currency, company, owner from customers where primary_email = ?"
    )
    assert query(home, customer, "p1@haneul.kr") == [(2, 1500.0, "KRW", "Haneul Foods", "1")]
    assert query(home, "select count(*) from customers where primary_email = 'p3@haneul.kr'") == [(1,)]

    fake.records["persons"][3]["is_deleted"] = True  # no longer listed: only a full refresh can tell
    fake.add(
        "deals",
        deal(
            101, status="won", value=500.0, person_id=1, is_deleted=True, updated=EPOCH + timedelta(hours=3)
        ),
    )
    sync(pipedrive_deals)
    sync(pipedrive_persons, full_refresh=True)
    dbt_build(home)

    assert query(home, customer, "p1@haneul.kr") == [(1, 1000.0, "KRW", "Haneul Foods", "1")]
    assert query(home, "select count(*) from customers where primary_email = 'p3@haneul.kr'") == [(0,)]
    assert query(home, "select count(*) from customer_source_records where source = 'pipedrive'") == [(4,)]


def test_a_sync_killed_half_way_and_run_again_lands_every_person_once_downstream(home, fake):
    fake.add("persons", *(person(i, email=f"p{i}@haneul.kr") for i in range(6, 12)))  # 11 persons, 6 pages

    resume = partial(sync, pipedrive_persons)
    persons = harness.kill_and_resume(home, fake, TOKEN, PipedriveClient, "persons", resume)

    assert persons["cursor_before"] == (EPOCH + timedelta(minutes=6)).isoformat()


def test_the_pipedrive_assets_are_in_the_code_location_and_feed_their_dbt_staging(dbt_manifest):
    harness.assert_in_the_code_location("pipedrive", ENTITIES)


def test_a_full_refresh_that_would_delete_most_persons_fails_until_allowed(home, fake):
    sync(pipedrive_organizations, pipedrive_persons)
    for person_id in (2, 3, 4, 5):  # the token now sees one person of five: a short walk, not deletions
        del fake.records["persons"][person_id]
    with pytest.raises(dg.Failure, match="allow_mass_deletion") as failed:
        sync(pipedrive_persons, full_refresh=True)
    assert failed.value.allow_retries is False
    allowed = {"ops": {"pipedrive__persons": {"config": {"full_refresh": True, "allow_mass_deletion": True}}}}
    result = dg.materialize([pipedrive_persons], resources=RESOURCES, run_config=allowed)
    assert metadata(result, "persons")["records_deleted"] == 4
