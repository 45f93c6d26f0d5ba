"""Drip campaigns: one asset per campaign file (campaigns/*.yml), the landed send ledger, and the check that
nobody was mailed who was not eligible.

Each campaign asset runs the send path of its campaign (orchestration/lib/outreach.py) once dbt has built
customers: enrol, exit, decide, send or dry-run, every decision in the send ledger. ``outreach/send_ledger``
then lands the ledger's changes for dbt, whose ``campaign_sends`` and ``campaign_enrollments`` marts build in
a second dbt step (orchestration/defs/dbt.py). The campaign files are checked when the definitions load and
again before a campaign runs, so a bad file stops everything before anything is sent.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from connectors.apis.sendgrid import SendGridError, SendGridMailer
from orchestration.defs.dbt import dripline_dbt_models
from orchestration.defs.tracking import EVENTS_KEY, REPLIES_KEY
from orchestration.lib.campaigns import (
    Campaign,
    CampaignDefinitionError,
    compliance_problems,
    configured_campaigns,
)
from orchestration.lib.outreach import (
    CampaignRunReport,
    ineligible_sends,
    ledger_for,
    run_campaign,
    send_context,
)
from orchestration.lib.send_ledger import iso, land_ledger_changes
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS

LANDED_SENDS = dg.AssetKey(["outreach", "campaign_sends"])
LANDED_ENROLLMENTS = dg.AssetKey(["outreach", "campaign_enrollments"])
ELIGIBILITY_CHECK = "sends_only_to_eligible"


def validated_campaigns(settings: DriplineSettings) -> list[Campaign]:
    try:
        return configured_campaigns(settings)
    except CampaignDefinitionError as error:
        raise dg.Failure(description=str(error)) from error


def campaign_metadata(report: CampaignRunReport) -> dict[str, Any]:
    """Counts a marketer reads (no personal data but the preview), and each step's first message rendered."""
    metadata: dict[str, Any] = {
        "mode": report.mode,
        "summary": report.summary_line(),
        "audience": dg.MetadataValue.int(report.audience),
        "enrolled": dg.MetadataValue.int(report.enrolled),
        "holdout_enrolled": dg.MetadataValue.int(report.holdout_enrolled),
        "active": dg.MetadataValue.int(report.active),
        "due": dg.MetadataValue.int(report.due),
        "sent": dg.MetadataValue.int(report.statuses["sent"]),
        "dry_run": dg.MetadataValue.int(report.statuses["dry_run"]),
        "holdout": dg.MetadataValue.int(report.statuses["holdout"]),
        "failed": dg.MetadataValue.int(report.statuses["failed"]),
        "unknown": dg.MetadataValue.int(report.statuses["unknown"] + report.recovered_unknown),
        "skipped": dg.MetadataValue.int(sum(report.skipped.values())),
        "skipped_by_reason": dg.MetadataValue.json(dict(report.skipped.most_common())),
        "exited_by_reason": dg.MetadataValue.json(dict(report.exited.most_common())),
        "api_requests": dg.MetadataValue.int(report.requests),
        "rate_limit_waits": dg.MetadataValue.int(report.rate_limit_waits),
        "dagster/row_count": dg.MetadataValue.int(report.due),
    }
    if report.previews:
        metadata["preview"] = dg.MetadataValue.md(
            "\n\n---\n\n".join(
                f"### Step `{p['step']}` (wait {p['wait']})\n\n**Subject:** {p['subject']}\n\n{p['html']}"
                for p in report.previews
            )
        )
    return metadata


def build_campaign_asset(campaign: Campaign) -> dg.AssetsDefinition:
    key = dg.AssetKey(["campaigns", campaign.name])
    audience = ", ".join(campaign.audience.segments) or "every customer"
    description = (
        f"{campaign.description}\n\n{campaign.purpose} campaign, trigger {campaign.trigger.type}, audience: "
        f"{audience}{' where ' + campaign.audience.where if campaign.audience.where else ''}; "
        f"{len(campaign.steps)} step(s), holdout {campaign.holdout_percent:g}%. "
        "One materialization is one run "
        "of its send path: who was enrolled, due, sent (or dry-run), held out and not mailed, and why."
    )

    @dg.asset(
        key=key,
        group_name="marketing",
        kinds={"python", "sendgrid"},
        owners=OWNERS,
        description=description,
        deps=[
            get_asset_key_for_model([dripline_dbt_models], "customers"),
            get_asset_key_for_model([dripline_dbt_models], "customer_source_records"),
            get_asset_key_for_model([dripline_dbt_models], "segment_memberships"),
            # unsubscribes, bounces, spam reports and replies end drips before the next step
            EVENTS_KEY,
            REPLIES_KEY,
        ],
        check_specs=[
            dg.AssetCheckSpec(
                ELIGIBILITY_CHECK,
                asset=key,
                blocking=True,
                description="Fails the run if a send of this run went to a customer not eligible then.",
            )
        ],
    )
    def _campaign(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = DriplineSettings()
        current = {c.name: c for c in validated_campaigns(settings)}.get(campaign.name)
        if current is None:
            raise dg.Failure(f"campaign {campaign.name!r} is no longer defined in {settings.campaigns_dir}")
        send = send_context(settings)
        if not current.enabled:
            return dg.MaterializeResult(
                metadata={"mode": send.mode, "summary": "disabled (enabled: false)"},
                check_results=[dg.AssetCheckResult(check_name=ELIGIBILITY_CHECK, passed=True)],
            )
        mailer = None
        if send.mode != "dry_run":
            mailer = SendGridMailer(
                settings.sendgrid_api_key.get_secret_value(),
                settings.sendgrid_base_url,
                timeout=settings.sendgrid_timeout_seconds,
                # A request whose answer timed out may have been accepted: never repeat it blindly; its
                # recipients are recorded unknown and reconciled from the events, which carry the send id.
                retry_timeouts=False,
            )
        elif settings.send_mode != "dry_run":
            context.log.warning(
                f"DRIPLINE_SEND_MODE={settings.send_mode} but DRIPLINE_SENDGRID_API_KEY is not set: dry run"
            )
        context.log.info(f"{current.name}: {send.mode.replace('_', ' ')} as of {send.now.isoformat()}")
        for problem in compliance_problems(current.name, current, settings.sender_address):
            context.log.warning(f"{problem} (a dry run goes on; sandbox and live sending refuse it)")
        try:
            report = run_campaign(
                current,
                settings.warehouse_path,
                settings.landing_dir,
                ledger_for(settings),
                send,
                mailer,
                on_locked=lambda: context.log.info("holding the send lock"),
            )
        except SendGridError as error:
            raise dg.Failure(description=str(error)) from error
        context.log.info(f"{current.name}: {report.summary_line()}")
        violations = ineligible_sends(settings, current, iso(send.now))
        return dg.MaterializeResult(
            metadata=campaign_metadata(report),
            check_results=[
                dg.AssetCheckResult(
                    check_name=ELIGIBILITY_CHECK,
                    passed=violations == 0,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=(
                        f"{violations} send(s) went to customers who were not eligible"
                        if violations
                        else "every send of this run went to an eligible customer"
                    ),
                    metadata={"ineligible_sends": dg.MetadataValue.int(violations)},
                )
            ],
        )

    return _campaign


def build_send_ledger_asset(campaign_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="send_ledger",
        specs=[
            dg.AssetSpec(
                key,
                group_name="outreach",
                kinds={"python", "sqlite", "parquet"},
                owners=OWNERS,
                deps=campaign_keys,
                description=f"The send ledger's {what}, landed for dbt in landing/outreach/: one row per "
                "version; the ledger (SQLite, <home>/outreach/ledger.sqlite3) stays the source of truth.",
            )
            for key, what in ((LANDED_SENDS, "send decisions"), (LANDED_ENROLLMENTS, "enrolments"))
        ],
    )
    def send_ledger(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        """Land every ledger row changed since the last batch."""
        settings = DriplineSettings()
        ledger = ledger_for(settings)
        with ledger.exclusive():
            export = land_ledger_changes(ledger, settings.landing_dir)
        context.log.info(
            f"landed {export.send_rows} send and {export.enrollment_rows} enrolment row version(s)"
        )
        yield dg.MaterializeResult(
            asset_key=LANDED_SENDS,
            metadata={"rows_landed": export.send_rows, "ledger_seq": export.ledger_seq},
        )
        yield dg.MaterializeResult(
            asset_key=LANDED_ENROLLMENTS,
            metadata={"rows_landed": export.enrollment_rows, "ledger_seq": export.ledger_seq},
        )

    return send_ledger


@dg.definitions
def defs() -> dg.Definitions:
    # Loading the code location checks every campaign file: a bad one names itself in the UI at once.
    campaigns = configured_campaigns(DriplineSettings())
    campaign_assets = [build_campaign_asset(campaign) for campaign in campaigns]
    keys = [dg.AssetKey(["campaigns", campaign.name]) for campaign in campaigns]
    return dg.Definitions(assets=[*campaign_assets, build_send_ledger_asset(keys)])
