"""A sync that was skipped for want of credentials still materialises (so dbt runs), which a freshness check
takes for fresh data: this check says so instead, as a warning on the source. And campaign_metrics warns
when a campaign bounces or draws spam reports past the limits (DRIPLINE_MAX_BOUNCE_RATE,
DRIPLINE_MAX_SPAM_REPORT_RATE)."""

import dagster as dg

from orchestration.defs.schedules import API_SOURCES
from orchestration.lib.campaign_report import campaigns_above
from orchestration.lib.display import percent
from orchestration.lib.settings import DriplineSettings

CAMPAIGN_METRICS = dg.AssetKey(["campaign_metrics"])


def _sync_is_configured_check(asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name="sync_is_configured",
        description="Warns when the latest sync was skipped (no token or no forms configured).",
        blocking=False,
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(asset_key)
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        skipped = metadata.get("skipped")
        reason = metadata.get("skipped_reason")
        if skipped is not None and skipped.value:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"skipped: {reason.value if reason else 'not configured'}; its data is not fresh",
            )
        return dg.AssetCheckResult(passed=True)

    return _check


sync_is_configured_checks = [_sync_is_configured_check(key) for key in API_SOURCES]


def _campaign_rate_check(name: str, rate: str, what: str, setting: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=CAMPAIGN_METRICS,
        name=name,
        description=f"Warns when a campaign's {what} is above DRIPLINE_{setting.upper()}.",
        blocking=False,
    )
    def _check() -> dg.AssetCheckResult:
        settings = DriplineSettings()
        limit = getattr(settings, setting)
        above = {
            c: percent(v, 2) for c, v in sorted(campaigns_above(settings.warehouse_path, rate, limit).items())
        }
        return dg.AssetCheckResult(
            passed=not above,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{what} above {percent(limit, 2)}: "
                + ", ".join(f"{campaign} {value}" for campaign, value in above.items())
                if above
                else f"every campaign's {what} is at most {percent(limit, 2)}"
            ),
            metadata={
                "limit": percent(limit, 2),
                "campaigns above": dg.MetadataValue.json(above),
            },
        )

    return _check


# Deliverability: a list that bounces or draws spam reports past these gets a sender's mail filtered
# (docs/marketing-ui.md).
campaign_rate_checks = [
    _campaign_rate_check("bounce_rate_below_limit", "bounce_rate", "bounce rate", "max_bounce_rate"),
    _campaign_rate_check(
        "spam_report_rate_below_limit", "spam_report_rate", "spam-report rate", "max_spam_report_rate"
    ),
]
