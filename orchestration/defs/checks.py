"""A sync that was skipped for want of credentials still materialises (so dbt runs), which a freshness check
takes for fresh data: this check says so instead, as a warning on the source."""

import dagster as dg

from orchestration.defs.schedules import API_SOURCES


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
