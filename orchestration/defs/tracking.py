"""Tracking: what SendGrid tells us about the mail we sent comes back into the warehouse.

The receiver (`make receiver`, connectors/webhooks/) stores every verified Event Webhook request and every
Inbound Parse reply durably in the home's spool (landing/sendgrid/webhook_requests/) before it answers
SendGrid, and never touches the warehouse. The asset here collects what it stored into the landing zones
dbt reads (sendgrid/events, sendgrid/replies); `make run` collects as part of the pipeline, and
`webhook_requests_sensor` starts `tracking_job` (collect, then the campaign metrics) whenever the receiver
has stored something new, for a deployment that runs on schedules.
"""

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from connectors.webhooks.pickup import collect_webhook_requests
from connectors.webhooks.spool import EVENTS, INBOUND, spool_files
from orchestration.defs.dbt import dripline_outreach_models
from orchestration.lib.settings import DriplineSettings

EVENTS_KEY = dg.AssetKey(["sendgrid", "events"])
REPLIES_KEY = dg.AssetKey(["sendgrid", "replies"])
GROUP = "tracking"


@dg.multi_asset(
    name="sendgrid_webhook_requests",
    specs=[
        dg.AssetSpec(
            EVENTS_KEY,
            group_name=GROUP,
            description=(
                "SendGrid's events (delivered, open, click, bounce, unsubscribe, ...) as the receiver stored "
                "them, one row per event, duplicates kept: landing/sendgrid/events."
            ),
        ),
        dg.AssetSpec(
            REPLIES_KEY,
            group_name=GROUP,
            description=(
                "Mail customers sent back to a campaign's reply-to address: landing/sendgrid/replies."
            ),
        ),
    ],
)
def sendgrid_webhook_requests(context: dg.AssetExecutionContext):
    """Collect every request the receiver stored and no run has collected yet (idempotent: a request is one
    batch named after its spool file)."""
    settings = DriplineSettings()
    report = collect_webhook_requests(settings.landing_dir)
    for issue in report.issues:
        context.log.warning(issue)
    yield dg.MaterializeResult(
        asset_key=EVENTS_KEY,
        metadata={
            "requests": dg.MetadataValue.int(report.event_requests),
            "events": dg.MetadataValue.int(report.events),
            "unreadable": dg.MetadataValue.int(report.unparseable),
            "already collected": dg.MetadataValue.int(report.already_collected),
            "summary": dg.MetadataValue.text(
                f"{report.events} event(s) from {report.event_requests} new request(s)"
                + (f", {report.unparseable} unreadable" if report.unparseable else "")
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=REPLIES_KEY,
        metadata={
            "replies": dg.MetadataValue.int(report.replies),
            "automatic": dg.MetadataValue.int(report.auto_replies),
            "summary": dg.MetadataValue.text(
                f"{report.replies} repl(ies) collected, {report.auto_replies} automatic"
            ),
        },
    )


tracking_job = dg.define_asset_job(
    "tracking_job",
    # The dbt models that read the events, and nothing else downstream: the campaign assets (which also read
    # them, for exits) send mail, and a new batch of events must never start a send.
    selection=dg.AssetSelection.assets(EVENTS_KEY, REPLIES_KEY)
    | build_dbt_asset_selection(
        [dripline_outreach_models], dbt_select="stg_sendgrid__events+ stg_sendgrid__replies+"
    ),
    description="Collect what the receiver stored, then rebuild the campaign events and metrics.",
)


@dg.sensor(
    job=tracking_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts tracking_job when the receiver has stored requests no run has collected.",
)
def webhook_requests_sensor(context: dg.SensorEvaluationContext):
    settings = DriplineSettings()
    newest = max(
        (path.name for kind in (EVENTS, INBOUND) for path in spool_files(settings.landing_dir, kind)),
        default=None,
    )
    if newest is None or (context.cursor is not None and newest <= context.cursor):
        return dg.SkipReason("nothing new from the receiver")
    context.update_cursor(newest)
    return dg.RunRequest(run_key=f"webhooks-{newest}")
