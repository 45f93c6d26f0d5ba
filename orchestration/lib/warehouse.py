"""Counts read from the warehouse after dbt has released it; no personal data."""

from pathlib import Path

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
