"""The SendGrid suppression-list assets, made by the one API-sync factory, against the loopback fake on a
temporary home: what they report, skipped without the API key, a rejected key, the daily full walk that
reconciles a removed address, and the lists reaching stg_sendgrid__suppressions with the operators' ones."""

from __future__ import annotations

from functools import partial

import dagster as dg

from connectors.apis.sendgrid_suppressions import ENTITIES, TOKEN_SETTING
from orchestration.defs.apis.sendgrid import SENDGRID_ASSETS, SendGridSuppressionsResource, sendgrid_bounces
from orchestration.defs.schedules import daily_suppression_reconcile_schedule
from orchestration.lib.outreach import land_suppressions
from orchestration.lib.sync_runs import FULL_REFRESH_TAG
from tests.dbt.test_dbt_build import dbt_build, prepare_landing, query
from tests.fakes.sendgrid import FakeSendGrid
from tests.orchestration.apis import harness
from tests.orchestration.apis.harness import node_metadata, run_syncs

KEY = "SG.orchestration-suppressions-7"
CREATED = 1_763_251_200  # 2025-11-16 00:00 UTC
RESOURCES = {"sendgrid": SendGridSuppressionsResource(page_size=2, max_retries=1)}


def lists(fake: FakeSendGrid) -> None:
    for n in range(1, 6):
        fake.suppress("bounces", f"b{n}@guests.co.kr", CREATED + n, reason="550 5.1.1", status="5.1.1")
    fake.suppress("blocks", "blocked@guests.co.kr", CREATED, reason="421 try later", status="4.0.0")
    fake.suppress("spam_reports", "spam@guests.co.kr", CREATED, ip="10.1.2.3")
    fake.suppress("invalid_emails", "nobody@@guests", CREATED, reason="Mail domain mentioned in email")
    fake.suppress("unsubscribes", "Unsub@Guests.co.kr", CREATED)
    fake.suppress_in_group(21001, "group@guests.co.kr", CREATED, group_name="Marketing")


fake = harness.configured_fake(
    FakeSendGrid, {"DRIPLINE_SENDGRID_BASE_URL": "{url}", TOKEN_SETTING: KEY}, lists, api_key=KEY
)


sync = partial(run_syncs, RESOURCES)
metadata = partial(node_metadata, source="sendgrid")


def test_every_list_lands_and_reports_like_every_sync(home, fake):
    result = sync(*SENDGRID_ASSETS)

    bounces = metadata(result, "bounces")
    assert (bounces["records_new"], bounces["pages"], bounces["dagster/row_count"]) == (5, 3, 5)
    assert bounces["updated_since"] is None  # every sync walks the whole list
    assert {entity: metadata(result, entity)["records_new"] for entity in ENTITIES} == {
        "bounces": 5,
        "blocks": 1,
        "spam_reports": 1,
        "invalid_emails": 1,
        "global_unsubscribes": 1,
        "group_unsubscribes": 1,
    }
    assert KEY not in str([metadata(result, entity) for entity in ENTITIES])


def test_without_an_api_key_the_lists_are_skipped_not_failed(home, monkeypatch, capfd):
    skipped = {"source": "sendgrid", "entities": ENTITIES, "monkeypatch": monkeypatch, "capfd": capfd}
    harness.assert_skipped_without(TOKEN_SETTING, partial(sync, *SENDGRID_ASSETS), home, **skipped)


def test_a_rejected_key_fails_the_asset_naming_the_setting(home, fake, monkeypatch):
    failure = harness.rejected_token_failure(monkeypatch, fake, TOKEN_SETTING, lambda: sync(sendgrid_bounces))

    assert "401" in str(failure)


def test_the_daily_full_walk_reconciles_an_address_taken_off_a_list(home, fake):
    sync(sendgrid_bounces)
    fake.unsuppress("bounces", "b3@guests.co.kr")

    plain = metadata(sync(sendgrid_bounces), "bounces")
    daily = metadata(sync(sendgrid_bounces, tags=dict(daily_suppression_reconcile_schedule.tags)), "bounces")

    assert (plain["records_unchanged"], plain["records_deleted"]) == (4, 0)
    assert (daily["full_refresh"], daily["records_deleted"], daily["dagster/row_count"]) == (True, 1, 6)
    assert daily_suppression_reconcile_schedule.tags[FULL_REFRESH_TAG] == "true"
    assert daily_suppression_reconcile_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert daily_suppression_reconcile_schedule.job_name == "sendgrid_suppressions_job"


def test_the_lists_and_the_operators_suppressions_reach_one_staging_model(home, fake):
    prepare_landing(home)
    land_suppressions(
        home / "landing",
        [
            {"email": "erased@guests.co.kr", "kind": "erasure"},
            {"email": "b1@guests.co.kr", "kind": "bounce"},  # also on SendGrid's list: one row
        ],
        origin="operator",
    )
    sync(*SENDGRID_ASSETS)
    fake.unsuppress("bounces", "b3@guests.co.kr")
    sync(sendgrid_bounces, full_refresh=True)
    dbt_build(home, "--select", "stg_sendgrid__suppressions")

    rows = query(
        home, "select email_key, kind, group_id, origin from stg_sendgrid__suppressions order by all"
    )
    assert rows == [
        ("b1@guests.co.kr", "bounce", None, "sendgrid_api"),  # SendGrid listed it first
        ("b2@guests.co.kr", "bounce", None, "sendgrid_api"),
        ("b4@guests.co.kr", "bounce", None, "sendgrid_api"),
        ("b5@guests.co.kr", "bounce", None, "sendgrid_api"),
        ("erased@guests.co.kr", "erasure", None, "operator"),
        ("group@guests.co.kr", "group_unsubscribe", 21001, "sendgrid_api"),
        ("nobody@@guests", "invalid_email", None, "sendgrid_api"),
        ("spam@guests.co.kr", "spam_report", None, "sendgrid_api"),
        ("unsub@guests.co.kr", "global_unsubscribe", None, "sendgrid_api"),
    ]


def test_the_sendgrid_assets_are_in_the_code_location_and_feed_the_suppressions_staging(dbt_manifest):
    harness.assert_in_the_code_location(
        "sendgrid", ENTITIES, staged_in="stg_sendgrid__suppressions", unstaged=["blocks"]
    )
