"""Jobs: what `make run` and the UI's launchpad run."""

import dagster as dg

from connectors.apis.sendgrid_suppressions import ENTITIES as SENDGRID_SUPPRESSION_LISTS

pipeline_job = dg.define_asset_job(
    "pipeline_job",
    selection=dg.AssetSelection.all(),
    description="Ingest every inbox, then build and test every dbt model.",
)

sendgrid_suppressions_job = dg.define_asset_job(
    "sendgrid_suppressions_job",
    selection=dg.AssetSelection.assets(*(["sendgrid", entity] for entity in SENDGRID_SUPPRESSION_LISTS)),
    description="Walk SendGrid's suppression lists (bounces, blocks, spam reports, invalid addresses, global "
    "and group unsubscribes) and land what changed.",
)
