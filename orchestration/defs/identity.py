"""The customer id map: after dbt has built and tested the ids of this run, remember them in landing."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.dbt import dripline_dbt_models
from orchestration.lib.identity import persist_customer_id_map
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS


@dg.asset(
    key=["customer_id_map"],
    # Downstream of the dbt step as a whole: it runs only when every model and test passed (the merge-jump
    # check included), so a bad run is never remembered, and it reads the warehouse once dbt let it go.
    deps=[get_asset_key_for_model([dripline_dbt_models], "int_identity__customer_ids")],
    group_name="identity",
    kinds={"python", "parquet"},
    owners=OWNERS,
)
def customer_id_map(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One row per record whose customer_id was new or changed in a run, in `landing/identity/customer_ids/`.

    The next dbt run reads it (source identity.customer_ids) to give every customer the id it had, through
    rebuilds, new members, merges and changed anchors; customer_id_history is derived from it.
    """
    settings = DriplineSettings()
    report = persist_customer_id_map(settings.warehouse_path, settings.landing_dir)
    context.log.info(
        f"customer id map: {report.rows_landed} record(s) with a new or changed id landed; "
        f"{report.new_customer_ids} new id(s), {report.retired_customer_ids} retired by merges"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.map_rows,
            "rows_landed": report.rows_landed,
            "customers": report.customers,
            "new_customer_ids": report.new_customer_ids,
            "retired_customer_ids": report.retired_customer_ids,
            "load_id": report.load_id or "",
        }
    )
