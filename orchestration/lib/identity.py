"""The customer id map: which customer_id every record had, kept in landing so ids survive a rebuild.

dbt assigns ids from the clusters of this run and the map of the previous runs
(``int_identity__customer_ids``); once dbt has built and tested it, ``persist_customer_id_map`` appends
what changed to ``landing/identity/customer_ids/`` as one immutable batch: only the records whose id is new
or differs from their latest entry. A record that left the warehouse keeps its last entry, so its id comes
back with it. Nothing else writes the map, and the warehouse can be deleted and rebuilt from landing
(the map included) to the same ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from connectors.core.landing import LandingZone

CUSTOMER_ID_MAP_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
    ]
)

ASSIGNMENT_MODEL = "int_identity__customer_ids"


def customer_id_map_zone(landing_dir: Path) -> LandingZone:
    return LandingZone(landing_dir, "identity", "customer_ids", schema=CUSTOMER_ID_MAP_SCHEMA)


@dataclass(frozen=True)
class CustomerIdMapReport:
    """What one persist did; counts only, no personal data."""

    load_id: str | None
    rows_landed: int
    customers: int
    new_customer_ids: int
    retired_customer_ids: int
    map_rows: int


def map_batch_id(previous_load_id: str | None, rows: list[tuple[str, str]]) -> str:
    """Deterministic from the map it extends and what it adds: a re-run after a crash lands the same batch
    (which LandingZone then skips), and X→Y→X→Y changes of one record are four batches, not two."""
    digest = hashlib.sha256((previous_load_id or "").encode())
    for record_key, customer_id in rows:
        digest.update(f"\n{record_key}\t{customer_id}".encode())
    return digest.hexdigest()


def persist_customer_id_map(warehouse_path: Path, landing_dir: Path) -> CustomerIdMapReport:
    """Land the records whose customer_id is new or changed since the latest map entry, as one batch.

    Reads ``int_identity__customer_ids`` read-only, so call it only once dbt has released the warehouse.
    """
    zone = customer_id_map_zone(landing_dir)
    zone.prepare()
    map_files = [str(zone.directory / "*.parquet")]
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        connection.execute(
            """
            create temp table log as
            select _load_id as load_id, _loaded_at as loaded_at, record_key, customer_id
            from read_parquet(?, union_by_name = true)
            """,
            [map_files],
        )
        connection.execute(
            """
            create temp table latest as
            select record_key, customer_id
            from log
            qualify row_number() over (partition by record_key order by loaded_at desc, load_id desc) = 1
            """
        )
        connection.execute(
            f"create temp table assignment as select record_key, customer_id from {ASSIGNMENT_MODEL}"
        )
        changed = connection.execute(
            """
            select assignment.record_key, assignment.customer_id
            from assignment
            left join latest on assignment.record_key = latest.record_key
            where latest.customer_id is distinct from assignment.customer_id
            order by assignment.record_key
            """
        ).fetchall()
        [(customers, new_ids, retired_ids, previous_load_id, previous_loaded_at)] = connection.execute(
            """
            select
                (select count(distinct customer_id) from assignment),
                (
                    select count(distinct customer_id) from assignment
                    where customer_id not in (select customer_id from log)
                ),
                -- ids that named records still present, and name none of them now: merged away
                (
                    select count(distinct latest.customer_id)
                    from latest
                    inner join assignment on latest.record_key = assignment.record_key
                    where latest.customer_id not in (select customer_id from assignment)
                ),
                (select load_id from log order by loaded_at desc, load_id desc limit 1),
                (select max(loaded_at) from log)
            """
        ).fetchall()

    load_id = None
    if changed:
        load_id = map_batch_id(previous_load_id, changed)
        # Entries are ordered by _loaded_at: never stamp a batch earlier than the one it follows.
        loaded_at = datetime.now(UTC)
        if previous_loaded_at is not None and loaded_at <= previous_loaded_at:
            loaded_at = previous_loaded_at + timedelta(microseconds=1)
        rows = pa.table(
            {"record_key": [r for r, _ in changed], "customer_id": [c for _, c in changed]},
            schema=zone.reader_schema,
        )
        zone.write_batch(load_id, rows, loaded_at=loaded_at)
    return CustomerIdMapReport(
        load_id=load_id,
        rows_landed=len(changed),
        customers=customers,
        new_customer_ids=new_ids,
        retired_customer_ids=retired_ids,
        map_rows=zone.row_count(),
    )
