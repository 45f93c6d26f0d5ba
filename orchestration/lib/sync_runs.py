"""Run-level switches shared by the sync assets."""

import dagster as dg

# A run tagged so (the daily full rebuild, or a person in the launchpad) full-refreshes every sync in it,
# whatever the per-asset config says; one tag instead of a config block per sync asset.
FULL_REFRESH_TAG = "dripline/full_refresh"


def is_full_refresh_run(context: dg.AssetExecutionContext) -> bool:
    return context.run.tags.get(FULL_REFRESH_TAG) == "true"
