"""Every dbt model as an asset, with dbt tests as asset checks, grouped for its reader: what a marketer
reads in the `marketing` group, described in their words, the rest by step of the pipeline. `customers`,
`segment_summary` and `campaign_metrics` carry the tables and plotted numbers a marketer reads
(docs/marketing-ui.md), with a warning check on each segment's reach.

Segment definitions are checked when the definitions load and again before `dbt build`, so a bad
segments.yml stops everything before any model runs."""

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.lib.campaign_report import campaign_metrics_metadata, has_campaign_metrics
from orchestration.lib.campaigns import CampaignDefinitionError, configured_campaigns
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.display import plotted_percent
from orchestration.lib.landing import prepare_landing
from orchestration.lib.segments import (
    Segment,
    SegmentDefinitionError,
    dbt_segments_var,
    load_segments,
    resolve_as_of,
    segment_summary_metadata,
)
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS
from orchestration.lib.warehouse import (
    BLOCKING_STATS_COLUMNS,
    blocking_stats,
    customer_counts,
    segment_summary,
)

dbt_project.prepare_if_dev()

CUSTOMERS = dg.AssetKey(["customers"])
SEGMENT_SUMMARY = dg.AssetKey(["segment_summary"])
CAMPAIGN_METRICS = dg.AssetKey(["campaign_metrics"])
BLOCKING_STATS = dg.AssetKey(["int_identity__blocking_stats"])


OUTREACH = "tag:outreach"

# What a marketer reads sits in one group; everything else is grouped by the step of the pipeline it belongs
# to, so the marketing group is not lost among the internal models.
MARKETING = "marketing"
MARKETING_MODELS = frozenset({"customers", "segment_summary", "segment_transitions", "campaign_metrics"})
TABLES_IN_METADATA = frozenset({"segment_summary", "campaign_metrics"})
# campaign_metrics' YAML is the tracking models' own; its marketer's description lives here.
MARKETING_DESCRIPTIONS = {
    "campaign_metrics": (
        "How each campaign's emails did, step by step. Deliv. 19/24: 19 of the 24 emails sent were "
        "delivered. Of the delivered: the share opened by a person (Apple Mail's automatic opens do not "
        "count), clicked (the unsubscribe link is not a click), replied to (auto-replies do not count), "
        "converted (a purchase or a form within the campaign's attribution window) and unsubscribed. Lift: "
        "how many percentage points more of the mailed customers converted than of the holdout, the "
        "customers kept out on purpose; when its 95 % range stays above zero, the campaign made a "
        "difference. A dry run was a rehearsal: nothing was sent. Plots: each campaign's rates over the runs."
    ),
}
GROUPS_BY_NAME = {
    "campaign_events": "tracking",
    "campaign_lift": "tracking",
    "customer_source_records": "identity",
    "customer_match_evidence": "identity",
    "customer_id_history": "identity",
    "quarantined_rows": "contacts",
    "segment_memberships": "segmentation",
}
# First match wins: purchases are the orders step even though they are computed per customer. The tracking
# models (SendGrid's events into campaign results) join the receiver's landed events (defs/tracking.py).
GROUPS_BY_PREFIX = (
    ("stg_sendgrid__", "tracking"),
    ("int_campaigns__", "tracking"),
    ("stg_identity__", "identity"),
    ("int_identity__", "identity"),
    ("int_contacts__", "contacts"),
    ("int_orders__", "orders"),
    ("int_customers__purchase", "orders"),
    ("int_customers__", "segmentation"),
)


class DriplineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        name = dbt_resource_props["name"]
        if name in MARKETING_MODELS:
            return MARKETING
        if name in GROUPS_BY_NAME:
            return GROUPS_BY_NAME[name]
        for prefix, group in GROUPS_BY_PREFIX:
            if name.startswith(prefix):
                return group
        if "outreach" in dbt_resource_props.get("tags", []):
            return "outreach"  # the send ledger's sends and enrolments
        if dbt_resource_props["resource_type"] == "seed":
            return "identity"  # name lists, placeholders, mailboxes and overrides the matching reads
        if name.startswith("stg_"):
            return "staging"
        return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "models"

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """A marketing model says what its numbers mean (meta.marketing_description in its YAML); the
        others keep dbt's description and SQL, which is what an engineer reads."""
        meta = {**dbt_resource_props.get("config", {}).get("meta", {}), **dbt_resource_props.get("meta", {})}
        name = dbt_resource_props["name"]
        marketing = meta.get("marketing_description") or MARKETING_DESCRIPTIONS.get(name)
        if name in MARKETING_MODELS and marketing:
            return " ".join(marketing.split())
        return super().get_description(dbt_resource_props)

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        """The asset page lists a model's columns above the latest metadata: for the models whose metadata
        is a marketer's table, that list (the engineer's, in the YAML) would push the table off screen."""
        metadata = super().get_metadata(dbt_resource_props)
        if dbt_resource_props["name"] in TABLES_IN_METADATA:
            return {key: value for key, value in metadata.items() if key != "dagster/column_schema"}
        return metadata

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS


def customer_metrics(warehouse: Path) -> dict[str, Any]:
    """What a marketer reads on the `customers` asset; no personal data."""
    counts = customer_counts(warehouse)
    customers = counts["customers"]
    return {
        "customers": dg.MetadataValue.int(customers),
        "source records": dg.MetadataValue.int(counts["records"]),
        "merged records": dg.MetadataValue.int(counts["records"] - customers),
        "quarantined rows": dg.MetadataValue.int(counts["quarantined"]),
        "email consent %": plotted_percent(counts["consented"] / customers if customers else 0.0),
    }


def segment_metrics(warehouse: Path) -> dict[str, Any]:
    return segment_summary_metadata(segment_summary(warehouse))


def blocking_metrics(warehouse: Path) -> dict[str, Any]:
    """Why the fuzzy tier took the time it took: per kind of block, the largest, the pairs offered and the
    blocks skipped for size. Counts only, no values."""
    rows = blocking_stats(warehouse)
    table = dg.MetadataValue.table(
        records=[dg.TableRecord(row) for row in rows],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(name, "string" if name == "block_kind" else "int")
                for name in BLOCKING_STATS_COLUMNS
            ]
        ),
    )
    return {
        "blocking_stats": table,
        "dagster/row_count": len(rows),
        "pairs_offered": sum(row["pair_count"] for row in rows),
        "largest_block_size": max((row["largest_block_size"] for row in rows), default=0),
        "skipped_block_count": sum(row["skipped_block_count"] for row in rows),
        "skipped_record_count": sum(row["skipped_record_count"] for row in rows),
    }


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
        "local_timezone": settings.local_timezone,
        "campaign_attribution_days": campaign_attribution_days(settings),
        # Read by dbt's profile; beyond it DuckDB spills to warehouse.duckdb.tmp/ in the home.
        "duckdb_memory_limit": settings.effective_duckdb_memory_limit,
    }
    if settings.as_of is not None:
        build_vars["as_of"] = resolve_as_of(settings.as_of, settings.local_timezone).isoformat()
    return build_vars


def campaign_attribution_days(settings: DriplineSettings) -> dict[str, int]:
    """Each campaign's attribution window for campaign_metrics and campaign_lift. Campaign files that do not
    validate fail their own assets; they do not stop the warehouse (their windows default to 7 days)."""
    try:
        return {campaign.name: campaign.attribution_days for campaign in configured_campaigns(settings)}
    except CampaignDefinitionError:
        return {}


def prepared_vars(context: dg.AssetExecutionContext) -> tuple[DriplineSettings, dict[str, Any]]:
    settings = DriplineSettings()
    segments = validated_segments(settings)
    # A run of a subset (or a home whose syncs never ran) still finds every source dbt reads.
    prepare_landing(settings.landing_dir)
    build_vars = dbt_vars(settings, segments)
    context.log.info(f"Segmentation as of {build_vars.get('as_of', 'the start of the dbt run')}")
    return settings, build_vars


def build_and_describe(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    describe: Mapping[dg.AssetKey, Callable[[Path], dict[str, Any]]],
) -> Iterator[Any]:
    """`dbt build`'s events as they come, but the outputs of the assets in `describe` only once dbt has
    finished, with the metadata `describe` reads from the warehouse: DuckDB lets one process write at a
    time."""
    settings, build_vars = prepared_vars(context)
    held_back = []
    for event in dbt.cli(["build", "--vars", json.dumps(build_vars)], context=context).stream():
        if isinstance(event, dg.Output) and context.asset_key_for_output(event.output_name) in describe:
            held_back.append(event)
        else:
            yield event
    for event in held_back:
        metadata = describe[context.asset_key_for_output(event.output_name)](settings.warehouse_path)
        # What the asset shows a reader first, then dbt's own entries (duration, invocation, status); dbt's
        # run time as text, so that it stays out of the reader's plots.
        dbt_metadata = {
            key: dg.MetadataValue.text(f"{value.value:.2f} s")
            if isinstance(value, dg.FloatMetadataValue) and key == "Execution Duration"
            else value
            for key, value in event.metadata.items()
        }
        yield event.with_metadata({**metadata, **dbt_metadata})


def campaign_metrics(warehouse: Path) -> dict[str, Any]:
    return campaign_metrics_metadata(warehouse) if has_campaign_metrics(warehouse) else {}


@dbt_assets(
    manifest=dbt_project.manifest_path, dagster_dbt_translator=DriplineDbtTranslator(), exclude=OUTREACH
)
def dripline_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    yield from build_and_describe(
        context,
        dbt,
        {CUSTOMERS: customer_metrics, SEGMENT_SUMMARY: segment_metrics, BLOCKING_STATS: blocking_metrics},
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=DriplineDbtTranslator(),
    select=OUTREACH,
    name="dripline_outreach_models",
)
def dripline_outreach_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """The send ledger's marts and the campaign tracking models, built once the campaigns have run;
    campaign_metrics shows each campaign's results (orchestration/lib/campaign_report.py)."""
    yield from build_and_describe(context, dbt, {CAMPAIGN_METRICS: campaign_metrics})


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
