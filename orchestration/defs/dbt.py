"""Every dbt model as an asset, with dbt tests as asset checks; `customers` reports what it holds and
`segment_summary` shows each segment's size and reach, with a warning check on the reach.

Segment definitions are checked when the definitions load and again before `dbt build`, so a bad
segments.yml stops everything before any model runs."""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.landing import prepare_landing
from orchestration.lib.segments import (
    Segment,
    SegmentDefinitionError,
    dbt_segments_var,
    load_segments,
    resolve_as_of,
)
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS
from orchestration.lib.warehouse import SEGMENT_SUMMARY_COLUMNS, customer_counts, segment_summary

dbt_project.prepare_if_dev()

CUSTOMERS = dg.AssetKey(["customers"])
SEGMENT_SUMMARY = dg.AssetKey(["segment_summary"])


OUTREACH = "tag:outreach"


class DriplineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "campaigns" if "outreach" in dbt_resource_props.get("tags", []) else "customers"

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


def segment_metrics(warehouse: Path) -> dict[str, Any]:
    """The summary as a table, and per segment its size and contactable share, which the UI plots."""
    rows = segment_summary(warehouse)
    types = {"segment": "string", "currency": "string", "segment_priority": "int", "customer_count": "int"}
    table = dg.MetadataValue.table(
        records=[
            dg.TableRecord({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            for row in rows
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(name, types.get(name, "float")) for name in SEGMENT_SUMMARY_COLUMNS]
        ),
    )
    metadata: dict[str, Any] = {"segment_summary": table, "dagster/row_count": len(rows)}
    for row in rows:
        metadata[f"segment/{row['segment']}/size"] = dg.MetadataValue.int(row["customer_count"])
        if row["contactable_share"] is not None:  # an empty segment has no share
            metadata[f"segment/{row['segment']}/contactable_share"] = dg.MetadataValue.float(
                round(row["contactable_share"], 4)
            )
    return metadata


def validated_segments(settings: DriplineSettings) -> list[Segment]:
    try:
        return load_segments(settings.segments_file)
    except SegmentDefinitionError as error:
        raise dg.Failure(description=str(error)) from error


def dbt_vars(settings: DriplineSettings, segments: list[Segment]) -> dict[str, Any]:
    """The vars of `dbt build`. Without DRIPLINE_AS_OF, dbt segments as of the start of its invocation (one
    instant for every model); passing a fresh time instead would change the vars, and so force dbt to parse
    the whole project again, on every run."""
    build_vars: dict[str, Any] = {
        "dripline_home": str(settings.home),
        "segments": dbt_segments_var(segments),
        "identity_fuzzy_threshold": settings.identity_fuzzy_threshold,
        "identity_max_merge_share": settings.identity_max_merge_share,
        "identity_min_merges_to_check": settings.identity_min_merges_to_check,
        # Read by dbt's profile; beyond it DuckDB spills to warehouse.duckdb.tmp/ in the home.
        "duckdb_memory_limit": settings.effective_duckdb_memory_limit,
    }
    if settings.as_of is not None:
        build_vars["as_of"] = resolve_as_of(settings.as_of, settings.local_timezone).isoformat()
    return build_vars


def prepared_vars(context: dg.AssetExecutionContext) -> tuple[DriplineSettings, dict[str, Any]]:
    settings = DriplineSettings()
    segments = validated_segments(settings)
    # A run of a subset (or a home whose syncs never ran) still finds every source dbt reads.
    prepare_landing(settings.landing_dir)
    build_vars = dbt_vars(settings, segments)
    context.log.info(f"Segmentation as of {build_vars.get('as_of', 'the start of the dbt run')}")
    return settings, build_vars


@dbt_assets(
    manifest=dbt_project.manifest_path, dagster_dbt_translator=DriplineDbtTranslator(), exclude=OUTREACH
)
def dripline_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    settings, build_vars = prepared_vars(context)
    held_back = []
    for event in dbt.cli(["build", "--vars", json.dumps(build_vars)], context=context).stream():
        # DuckDB lets one process write at a time: read the warehouse only once dbt has finished.
        if isinstance(event, dg.Output) and context.asset_key_for_output(event.output_name) in (
            CUSTOMERS,
            SEGMENT_SUMMARY,
        ):
            held_back.append(event)
        else:
            yield event
    for event in held_back:
        key = context.asset_key_for_output(event.output_name)
        metrics = customer_metrics if key == CUSTOMERS else segment_metrics
        yield event.with_metadata({**event.metadata, **metrics(settings.warehouse_path)})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=DriplineDbtTranslator(),
    select=OUTREACH,
    name="dripline_outreach_models",
)
def dripline_outreach_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """campaign_sends and campaign_enrollments, built from the send ledger once the campaigns have run."""
    _, build_vars = prepared_vars(context)
    yield from dbt.cli(["build", "--vars", json.dumps(build_vars)], context=context).stream()


@dg.asset_check(
    asset=SEGMENT_SUMMARY,
    name="contactable_share_above_floor",
    description=(
        "Warns when a non-empty segment's share of customers with a consented email or a phone is below "
        "DRIPLINE_CONTACTABLE_SHARE_FLOOR."
    ),
    blocking=False,
)
def contactable_share_above_floor() -> dg.AssetCheckResult:
    settings = DriplineSettings()
    floor = settings.contactable_share_floor
    rows = [row for row in segment_summary(settings.warehouse_path) if row["customer_count"]]
    below = {row["segment"]: row["contactable_share"] for row in rows if row["contactable_share"] < floor}
    return dg.AssetCheckResult(
        passed=not below,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"below the contactable floor {floor:.0%}: "
            + ", ".join(f"{name} {share:.0%}" for name, share in below.items())
            if below
            else f"every non-empty segment reaches the contactable floor {floor:.0%}"
        ),
        metadata={
            "floor": dg.MetadataValue.float(floor),
            "segments_below_floor": dg.MetadataValue.json(sorted(below)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    # Loading the code location checks segments.yml: a bad definition names itself in the UI at once.
    load_segments(DriplineSettings().segments_file)
    return dg.Definitions(
        assets=[dripline_dbt_models, dripline_outreach_models], asset_checks=[contactable_share_above_floor]
    )
