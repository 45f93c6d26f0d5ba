import dagster as dg
import pytest

from orchestration.defs.apis.pipedrive import pipedrive_persons
from orchestration.defs.schedules import (
    API_SOURCES,
    FILE_SOURCES,
    daily_full_rebuild_schedule,
    hourly_sync_schedule,
    source_freshness_checks,
    source_freshness_sensor,
)
from orchestration.lib.sync_runs import FULL_REFRESH_TAG
from tests.orchestration.apis.test_pipedrive_sync import RESOURCES, fake  # noqa: F401  (fixture)


def test_schedules_and_the_freshness_sensor_start_switched_off():
    for schedule in (hourly_sync_schedule, daily_full_rebuild_schedule):
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        assert schedule.job_name == "pipeline_job"
    assert source_freshness_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert hourly_sync_schedule.cron_schedule == "0 * * * *"
    assert FULL_REFRESH_TAG not in (hourly_sync_schedule.tags or {})
    assert daily_full_rebuild_schedule.tags[FULL_REFRESH_TAG] == "true"


def test_every_source_has_a_freshness_check():
    checked = {key for check in source_freshness_checks for key in check.check_keys}
    assert {key.asset_key for key in checked} == set(API_SOURCES) | set(FILE_SOURCES)


def test_a_run_tagged_full_refresh_walks_every_record_whatever_the_config(home, fake):  # noqa: F811
    def persons_requests():
        return [r for r in fake.requests if r.path == "/api/v2/persons"]

    dg.materialize([pipedrive_persons], resources=RESOURCES)
    dg.materialize([pipedrive_persons], resources=RESOURCES)
    incremental = persons_requests()[-1]
    assert "updated_since" in incremental.query
    dg.materialize([pipedrive_persons], resources=RESOURCES, tags={FULL_REFRESH_TAG: "true"})
    assert "updated_since" not in persons_requests()[-1].query


@pytest.mark.parametrize("schedule", [hourly_sync_schedule, daily_full_rebuild_schedule])
def test_the_schedules_target_a_job_of_the_code_location(dbt_manifest, schedule):
    from orchestration.definitions import defs

    assert defs().resolve_schedule_def(schedule.name).job_name == "pipeline_job"


def _checks(check: dg.AssetChecksDefinition, path: list[str]) -> bool:
    return any(key.asset_key.path == path for key in check.check_keys)


def test_a_skipped_sync_warns_that_its_source_is_not_configured(home, monkeypatch):
    from orchestration.defs.apis.pipedrive import PipedriveResource, pipedrive_deals
    from orchestration.defs.checks import sync_is_configured_checks

    monkeypatch.delenv("DRIPLINE_PIPEDRIVE_API_TOKEN", raising=False)
    [check] = [c for c in sync_is_configured_checks if _checks(c, ["pipedrive", "deals"])]
    result = dg.materialize([pipedrive_deals, check], resources={"pipedrive": PipedriveResource()})
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "DRIPLINE_PIPEDRIVE_API_TOKEN" in evaluation.description


def test_a_configured_sync_passes_the_check(home, fake):  # noqa: F811
    from orchestration.defs.checks import sync_is_configured_checks

    [check] = [c for c in sync_is_configured_checks if _checks(c, ["pipedrive", "persons"])]
    result = dg.materialize([pipedrive_persons, check], resources=RESOURCES)
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed
