"""The campaign asset as Dagster runs it: metadata a marketer reads, and the blocking eligibility check."""

from __future__ import annotations

import sqlite3

import dagster as dg
import pytest

from orchestration.lib.outreach import ineligible_sends
from orchestration.lib.send_ledger import iso
from orchestration.lib.settings import DriplineSettings
from tests.outreach.harness import at, customer

AS_OF = "2026-11-16T10:00:00+09:00"


@pytest.fixture
def configured(outreach_home, monkeypatch):
    home = outreach_home
    home.build(
        [
            customer("c1", "c1@guests.co.kr", full_name="김민수"),
            customer("c2", "c2@guests.co.kr", consent_email=False),
            customer("c3", None),
        ]
    )
    campaign = home.write_campaign()
    monkeypatch.setenv("DRIPLINE_HOME", str(home.root))
    monkeypatch.setenv("DRIPLINE_CAMPAIGNS_DIR", str(home.campaigns_dir))
    monkeypatch.setenv("DRIPLINE_AS_OF", AS_OF)
    return home, campaign


def test_a_campaign_materializes_its_counts_preview_and_a_passing_check(configured, dbt_manifest):
    # The definitions read dbt's manifest: import them once the session fixture has parsed the project.
    from orchestration.defs.campaigns import build_campaign_asset

    _, campaign = configured
    with dg.instance_for_test() as instance:
        result = dg.materialize([build_campaign_asset(campaign)], instance=instance)
    assert result.success
    [materialization] = result.asset_materializations_for_node("campaigns__welcome_first_buyers")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["mode"] == "dry_run"
    assert (metadata["due"], metadata["dry_run"], metadata["skipped"]) == (3, 1, 2)
    assert metadata["skipped_by_reason"] == {"no_consent": 1, "no_email": 1}
    assert (
        metadata["summary"]
        == "dry run: 3 due, 1 dry-run, 2 not mailed (no_consent 1, no_email 1), 3 enrolled"
    )
    assert "(광고) 김민수님, 첫 주문 감사합니다" in metadata["preview"]
    # counts and the preview only: no address anywhere in the metadata
    assert not any("@guests.co.kr" in str(value) for value in metadata.values())
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.check_name == "sends_only_to_eligible"


def test_the_check_finds_a_send_to_a_customer_without_consent(configured):
    home, campaign = configured
    home.run(campaign, at("2026-11-16 10:00"))
    settings = DriplineSettings()
    now = iso(at("2026-11-16 10:00"))
    assert ineligible_sends(settings, campaign, now) == 0
    # A bug that mailed the customer who never consented: the check reads the warehouse, not the decision.
    with sqlite3.connect(home.root / "outreach" / "ledger.sqlite3") as connection:
        connection.execute(
            "update sends set status = 'dry_run', sent_at = ? where customer_id = 'c2'",
            [now],
        )
    assert ineligible_sends(settings, campaign, now) == 1


def test_the_check_finds_a_send_to_a_holdout_or_a_suppressed_address(configured):
    from orchestration.lib.outreach import land_suppressions

    home, campaign = configured
    home.run(campaign, at("2026-11-16 10:00"))
    settings = DriplineSettings()
    now = iso(at("2026-11-16 10:00"))
    ledger = home.root / "outreach" / "ledger.sqlite3"
    with sqlite3.connect(ledger) as connection:
        connection.execute("update enrollments set treatment_group = 'holdout' where customer_id = 'c1'")
    assert ineligible_sends(settings, campaign, now) == 1
    with sqlite3.connect(ledger) as connection:
        connection.execute("update enrollments set treatment_group = 'treatment' where customer_id = 'c1'")
    assert ineligible_sends(settings, campaign, now) == 0
    land_suppressions(home.landing, [{"email": "c1@guests.co.kr", "kind": "erasure"}], "test")
    assert ineligible_sends(settings, campaign, now) == 1
