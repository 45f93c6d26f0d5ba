import dagster as dg
import pytest

from orchestration.defs.pipedrive import pipedrive_persons
from orchestration.defs.schedules import (
    API_SOURCES,
    FILE_SOURCES,
    daily_full_rebuild_schedule,
    hourly_sync_schedule,
    source_freshness_checks,
    source_freshness_sensor,
)
from orchestration.lib.sync_runs import FULL_REFRESH_TAG
from tests.orchestration.test_pipedrive_sync import RESOURCES, fake  # noqa: F401  (fixture)


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
