"""Jobs: what `make run` and the UI's launchpad run."""

import dagster as dg

pipeline_job = dg.define_asset_job(
    "pipeline_job",
    selection=dg.AssetSelection.all(),
    description="Ingest every inbox, then build and test every dbt model.",
)
