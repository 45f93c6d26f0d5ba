"""Every dbt model as an asset, with dbt tests as asset checks; `customers` reports what it holds."""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.landing import prepare_landing
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS
from orchestration.lib.warehouse import customer_counts

dbt_project.prepare_if_dev()

CUSTOMERS = dg.AssetKey(["customers"])


class DriplineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "customers"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS


def customer_metrics(warehouse: Path) -> dict[str, Any]:
    """What a marketer reads on the `customers` asset; no personal data."""
    counts = customer_counts(warehouse)
    customers = counts["customers"]
    return {
        "customer_count": customers,
        "source_record_count": counts["records"],
        "merge_count": counts["records"] - customers,
        "quarantined_row_count": counts["quarantined"],
        "consented_email_share": dg.MetadataValue.float(
            round(counts["consented"] / customers, 4) if customers else 0.0
        ),
    }


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=DriplineDbtTranslator())
def dripline_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    settings = DriplineSettings()
    # A run of a subset (or a home whose syncs never ran) still finds every source dbt reads.
    prepare_landing(settings.landing_dir)
    dbt_vars = json.dumps({"dripline_home": str(settings.home)})
    held_back = []
    for event in dbt.cli(["build", "--vars", dbt_vars], context=context).stream():
        # DuckDB lets one process write at a time: read the warehouse only once dbt has finished.
        if isinstance(event, dg.Output) and context.asset_key_for_output(event.output_name) == CUSTOMERS:
            held_back.append(event)
        else:
            yield event
    for event in held_back:
        yield event.with_metadata({**event.metadata, **customer_metrics(settings.warehouse_path)})
