"""Counts read from the warehouse after dbt has released it; no personal data."""

from pathlib import Path
from typing import Any

import duckdb


def customer_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        customers, consented, merged_customers, records = connection.execute(
            """
            select
                count(*),
                count(*) filter (where consent_email),
                count(*) filter (where record_count > 1),
                coalesce(sum(record_count), 0)
            from customers
            """
        ).fetchall()[0]
        quarantined = connection.execute("select count(*) from quarantined_rows").fetchall()[0][0]
    return {
        "customers": customers,
        "consented": consented,
        "merged_customers": merged_customers,
        "records": records,
        "quarantined": quarantined,
    }


SEGMENT_SUMMARY_COLUMNS = (
    "segment",
    "segment_priority",
    "customer_count",
    "customer_share",
    "currency",
    "total_value",
    "average_value",
    "average_purchase_count",
    "consented_email_share",
    "phone_share",
    "unreachable_share",
    "contactable_share",
)


def segment_summary(warehouse: Path) -> list[dict[str, Any]]:
    """The rows of segment_summary, by priority: aggregates only, no personal data."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            f"select {', '.join(SEGMENT_SUMMARY_COLUMNS)} from segment_summary order by segment_priority"
        ).fetchall()
    return [dict(zip(SEGMENT_SUMMARY_COLUMNS, row, strict=True)) for row in rows]


BLOCKING_STATS_COLUMNS = (
    "block_kind",
    "block_count",
    "record_count",
    "largest_block_size",
    "pair_count",
    "skipped_block_count",
    "skipped_record_count",
    "largest_skipped_block_size",
)


def blocking_stats(warehouse: Path) -> list[dict[str, Any]]:
    """The rows of int_identity__blocking_stats (the fuzzy tier's blocks): counts only, no values."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = ", ".join(BLOCKING_STATS_COLUMNS)
        rows = connection.execute(
            f"select {columns} from int_identity__blocking_stats order by block_kind"
        ).fetchall()
    return [dict(zip(BLOCKING_STATS_COLUMNS, row, strict=True)) for row in rows]
