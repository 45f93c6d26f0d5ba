"""When the pipeline runs by itself: the schedules and the freshness sensor start switched off.

Turn them on in the UI (Automation) once the syncs have credentials. hourly_sync_schedule picks up what
changed since the landed cursors; daily_full_rebuild_schedule walks every record of every sync (so deletions
the APIs do not report incrementally are reconciled) and rebuilds the warehouse;
daily_suppression_reconcile_schedule walks SendGrid's suppression lists in full before the day's sends, so an
address SendGrid no longer lists stops being suppressed (the send path reads the lists from landing).
"""

from datetime import timedelta

import dagster as dg

from connectors.apis.sendgrid_suppressions import ENTITIES as SENDGRID_SUPPRESSION_LISTS
from orchestration.defs.jobs import pipeline_job, sendgrid_suppressions_job
from orchestration.lib.sync_runs import FULL_REFRESH_TAG

API_SOURCES = [
    dg.AssetKey(["pipedrive", "organizations"]),
    dg.AssetKey(["pipedrive", "persons"]),
    dg.AssetKey(["pipedrive", "deals"]),
    dg.AssetKey(["typeform", "responses"]),
    dg.AssetKey(["hubspot", "contacts"]),
    dg.AssetKey(["hubspot", "companies"]),
    dg.AssetKey(["hubspot", "deals"]),
    dg.AssetKey(["shopify", "customers"]),
    dg.AssetKey(["shopify", "orders"]),
    *(dg.AssetKey(["sendgrid", entity]) for entity in SENDGRID_SUPPRESSION_LISTS),
]
FILE_SOURCES = [dg.AssetKey(["spreadsheets", "contacts"]), dg.AssetKey(["forms", "submissions"])]

hourly_sync_schedule = dg.ScheduleDefinition(
    name="hourly_sync_schedule",
    job=pipeline_job,
    cron_schedule="0 * * * *",
    execution_timezone="Asia/Seoul",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour: incremental syncs, new inbox files, and a dbt build.",
)

daily_full_rebuild_schedule = dg.ScheduleDefinition(
    name="daily_full_rebuild_schedule",
    job=pipeline_job,
    cron_schedule="30 3 * * *",
    execution_timezone="Asia/Seoul",
    tags={FULL_REFRESH_TAG: "true"},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 03:30 KST: full-refresh syncs (deletions reconciled) and a dbt build.",
)

daily_suppression_reconcile_schedule = dg.ScheduleDefinition(
    name="daily_suppression_reconcile_schedule",
    job=sendgrid_suppressions_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Seoul",
    tags={FULL_REFRESH_TAG: "true"},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every morning at 06:00 KST, before the day's sends: a full walk of SendGrid's suppression "
    "lists (an address SendGrid no longer lists is no longer suppressed; the mass-deletion guard applies).",
)

# An hourly sync that has not landed for two hours, or inbox ingestion not run for a day and a bit, warns.
source_freshness_checks = [
    *dg.build_last_update_freshness_checks(assets=API_SOURCES, lower_bound_delta=timedelta(hours=2)),
    *dg.build_last_update_freshness_checks(assets=FILE_SOURCES, lower_bound_delta=timedelta(hours=26)),
]

source_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=source_freshness_checks,
    name="source_freshness_sensor",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
