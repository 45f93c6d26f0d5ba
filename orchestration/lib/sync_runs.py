"""Run-level switches and defaults shared by the assets."""

import dagster as dg

# A run tagged so (the daily full rebuild, or a person in the launchpad) full-refreshes every sync in it,
# whatever the per-asset config says; one tag instead of a config block per sync asset.
FULL_REFRESH_TAG = "dripline/full_refresh"


def is_full_refresh_run(context: dg.AssetExecutionContext) -> bool:
    return context.run.tags.get(FULL_REFRESH_TAG) == "true"


OWNERS = ["team:data-engineering"]

# Transient faults (5xx, timeouts, rate limits that outlasted the client's own retries) get a few more
# tries, spaced out; a retry resumes from what landed, so it never duplicates. Auth errors, malformed pages
# and stuck cursors fail at once (dg.Failure with allow_retries=False): retrying cannot fix them.
SYNC_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
