"""The landing zone: immutable, append-only batches that dbt reads as sources.

Layout under ``DRIPLINE_HOME``::

    landing/<source>/<entity>/_schema.parquet          zero rows, pins column types for dbt (current schema)
    landing/<source>/<entity>/<batch_id>.parquet       one immutable batch per ingested input

A batch is written to a hidden temporary name in the same directory (one that the ``*.parquet`` glob of
dbt never matches), flushed to disk and renamed into place, so a reader sees either the whole batch or
nothing, and a crash leaves at most a temporary file that a later run removes once it is stale. The
batch id is derived from the content of the input (a file's SHA-256), so landing the same input twice is
a no-op: re-running after a crash or dropping the same file again never duplicates records.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"
# A temporary file this old belongs to a crashed writer, not to one still running.
STALE_TEMP_SECONDS = 6 * 3600
SCHEMA_FILE = "_schema.parquet"

_TS = pa.timestamp("us", tz="UTC")

# One row per record read from a person-supplied file or a form capture. Raw values are kept exactly
# as read next to their normalised forms, so nothing is lost and a later version can re-derive.
CONTACT_RECORD_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", _TS, nullable=False),
        pa.field("_source", pa.string(), nullable=False),
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_source_sheet", pa.string()),
        pa.field("_source_row", pa.int64(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("record_at", _TS),
        pa.field("raw_name", pa.string()),
        pa.field("raw_email", pa.string()),
        pa.field("raw_phone", pa.string()),
        pa.field("raw_company", pa.string()),
        pa.field("raw_consent_email", pa.string()),
        pa.field("raw_birthday", pa.string()),
        pa.field("raw_row", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("full_name", pa.string()),
        pa.field("email", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("phone_type", pa.string()),
        pa.field("company", pa.string()),
        pa.field("consent_email", pa.bool_()),
        # ISO 8601: YYYY-MM-DD, or --MM-DD when the source gives no year (normalize.parse_birthday).
        pa.field("birthday", pa.string()),
        pa.field("field_issues", pa.string()),
        pa.field("rejection_reason", pa.string()),
    ]
)

# What a reader produces: every column but the two the landing writer stamps on a batch.
READER_SCHEMA = pa.schema([f for f in CONTACT_RECORD_SCHEMA if f.name not in ("_load_id", "_loaded_at")])
RECORD_COLUMNS = READER_SCHEMA.names

# One row per row of an order sheet (spreadsheets/orders). An order spanning several rows (one per product)
# lands as several rows sharing order_id; dbt decides what one purchase is. The buyer columns are
# normalised like a contact's, and every raw cell is kept, so a rejected row can be fixed from its record.
ORDER_RECORD_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", _TS, nullable=False),
        pa.field("_source", pa.string(), nullable=False),
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_source_sheet", pa.string()),
        pa.field("_source_row", pa.int64(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("order_id", pa.string()),
        pa.field("ordered_at", _TS),
        pa.field("amount", pa.decimal128(20, 4)),
        pa.field("currency", pa.string()),
        pa.field("product", pa.string()),
        pa.field("quantity", pa.float64()),
        pa.field("raw_ordered_at", pa.string()),
        pa.field("raw_amount", pa.string()),
        pa.field("raw_currency", pa.string()),
        pa.field("raw_quantity", pa.string()),
        pa.field("raw_name", pa.string()),
        pa.field("raw_email", pa.string()),
        pa.field("raw_phone", pa.string()),
        pa.field("raw_company", pa.string()),
        pa.field("raw_row", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("full_name", pa.string()),
        pa.field("email", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("phone_type", pa.string()),
        pa.field("company", pa.string()),
        pa.field("field_issues", pa.string()),
        pa.field("rejection_reason", pa.string()),
    ]
)
ORDER_READER_SCHEMA = pa.schema([f for f in ORDER_RECORD_SCHEMA if f.name not in ("_load_id", "_loaded_at")])

# One row per record of one page of an API list walk. A page lands as its own batch
# (``<sync_id>-p<page>``) as soon as it has been read, so a sync killed half-way keeps every page it
# landed; the record is kept exactly as the API returned it, and staging picks the latest version per
# record_id by updated_at. ``_cursor`` is the cursor the page was requested with (null for a first page).
API_RECORD_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", _TS, nullable=False),
        pa.field("_source", pa.string(), nullable=False),
        pa.field("_entity", pa.string(), nullable=False),
        pa.field("_sync_id", pa.string(), nullable=False),
        pa.field("_page", pa.int64(), nullable=False),
        pa.field("_cursor", pa.string()),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("updated_at", _TS),
        pa.field("is_deleted", pa.bool_(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
    ]
)

# API records that are also contacts (Pipedrive persons): the API columns plus the normalised contact
# columns every file reader fills, so they join the contact union like any other contact source. The
# locator columns of a file (_source_file, _source_sheet, _source_row) have no meaning for an API record.
_FILE_LOCATORS = ("_load_id", "_loaded_at", "_source", "_source_file", "_source_sheet", "_source_row")
API_CONTACT_RECORD_SCHEMA = pa.schema(
    [*API_RECORD_SCHEMA, *(f for f in CONTACT_RECORD_SCHEMA if f.name not in _FILE_LOCATORS)]
)


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LandingZone:
    """The landing directory of one entity, e.g. ``landing/spreadsheets/contacts``."""

    root: Path
    source: str
    entity: str
    schema: pa.Schema = CONTACT_RECORD_SCHEMA

    @property
    def directory(self) -> Path:
        return self.root / self.source / self.entity

    def prepare(self) -> None:
        """Create the directory and its schema file, and remove stale temporaries left by a crash.

        The schema file is rewritten when the schema has changed since it was written (a column added): it
        holds no rows, and dbt reads every batch by name together with it, so the new column exists for
        dbt even while every batch was landed before it (and is null in those). Batches stay untouched.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - STALE_TEMP_SECONDS
        for leftover in self.directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
        schema_path = self.directory / SCHEMA_FILE
        written = pq.read_schema(schema_path) if schema_path.exists() else None
        if written is None or not written.equals(self.schema, check_metadata=False):
            self._atomic_write(self.schema.empty_table(), schema_path)

    @property
    def reader_schema(self) -> pa.Schema:
        return pa.schema([f for f in self.schema if f.name not in ("_load_id", "_loaded_at")])

    def batch_path(self, batch_id: str) -> Path:
        return self.directory / f"{batch_id}.parquet"

    def has_batch(self, batch_id: str) -> bool:
        return self.batch_path(batch_id).exists()

    def batch_ids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.parquet") if p.name != SCHEMA_FILE)

    def row_count(self) -> int:
        """Rows in every landed batch, from the parquet footers (no data is read)."""
        return sum(pq.read_metadata(self.batch_path(b)).num_rows for b in self.batch_ids())

    def max_value(self, column: str) -> object | None:
        """The largest non-null ``column`` over every landed batch, from the parquet footers' row-group
        statistics (no data is read; a batch without statistics is read for that column alone)."""
        best = None
        for batch_id in self.batch_ids():
            path = self.batch_path(batch_id)
            metadata = pq.read_metadata(path)
            index = metadata.schema.to_arrow_schema().get_field_index(column)
            for group in range(metadata.num_row_groups):
                stats = metadata.row_group(group).column(index).statistics
                if stats is None or not stats.has_min_max:
                    if stats is not None and stats.null_count == metadata.row_group(group).num_rows:
                        continue
                    values = pq.read_table(path, columns=[column]).column(0).drop_null()
                    value = pc.max(values).as_py() if len(values) else None
                else:
                    value = stats.max
                if value is not None and (best is None or value > best):
                    best = value
        return best

    def read_columns(self, columns: list[str]) -> pa.Table:
        """``columns`` of every landed batch as one table (the schema file included: it has no rows)."""
        paths = [str(self.batch_path(b)) for b in self.batch_ids()]
        if not paths:
            return self.schema.empty_table().select(columns)
        return pq.ParquetDataset(paths, schema=self.schema).read(columns=columns)

    def write_batch(
        self,
        batch_id: str,
        records: Iterable[Mapping[str, object]] | pa.Table,
        loaded_at: datetime | None = None,
    ) -> int:
        """Land one batch atomically and return its row count; an existing batch is left untouched.

        ``records`` are rows (or a table) holding the reader's columns; ``_load_id`` and
        ``_loaded_at`` are stamped here so every row of a batch carries the same values.
        """
        target = self.batch_path(batch_id)
        if target.exists():
            return 0
        loaded_at = loaded_at or datetime.now(UTC)
        if isinstance(records, pa.Table):
            table = records
        else:
            table = pa.Table.from_pylist(list(records), schema=self.reader_schema)
        n = table.num_rows
        table = table.add_column(0, self.schema.field("_loaded_at"), pa.array([loaded_at] * n, _TS))
        table = table.add_column(0, self.schema.field("_load_id"), pa.array([batch_id] * n, pa.string()))
        table = table.select(self.schema.names).cast(self.schema)
        self._atomic_write(table, target)
        return n

    def open_batch(self, batch_id: str, loaded_at: datetime | None = None) -> BatchWriter:
        """A writer that lands one batch as it is produced, a record batch at a time: a reader of a
        million-row file streams into it and never holds the file's records in memory."""
        return BatchWriter(self, batch_id, loaded_at or datetime.now(UTC))

    def _atomic_write(self, table: pa.Table, target: Path) -> None:
        temp = _temp_name(target)
        pq.write_table(table, temp, compression="zstd")
        _publish(temp, target)


def _temp_name(target: Path) -> Path:
    return target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}{TEMP_SUFFIX}")


def _publish(temp: Path, target: Path) -> None:
    """Flush ``temp`` to disk and rename it to ``target``: a reader sees the whole file or nothing."""
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    directory_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


class BatchWriter:
    """One batch of a landing zone, written a record batch (one parquet row group) at a time to a hidden
    temporary file and published by ``commit``; ``abort`` (or a crash) leaves nothing dbt reads.

    Record batches hold the reader's columns; ``_load_id`` and ``_loaded_at`` are stamped here.
    ``truncate(n)`` keeps the first ``n`` row groups only (a sheet that failed part-way is discarded).
    """

    def __init__(self, zone: LandingZone, batch_id: str, loaded_at: datetime) -> None:
        self.zone = zone
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        self.target = zone.batch_path(batch_id)
        self.rows = 0
        self.row_groups = 0
        self._group_rows: list[int] = []
        self._temp: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._temp = _temp_name(self.target)
            self._writer = pq.ParquetWriter(self._temp, self.zone.schema, compression="zstd")
        return self._writer

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        n = batch.num_rows
        if not n:
            return
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        table = table.add_column(0, self.zone.schema.field("_loaded_at"), pa.array([self.loaded_at] * n, _TS))
        table = table.add_column(
            0, self.zone.schema.field("_load_id"), pa.array([self.batch_id] * n, pa.string())
        )
        table = table.select(self.zone.schema.names).cast(self.zone.schema)
        self._open().write_table(table, row_group_size=n)
        self.rows += n
        self.row_groups += 1
        self._group_rows.append(n)

    def truncate(self, row_groups: int) -> None:
        if row_groups >= self.row_groups or self._writer is None or self._temp is None:
            return
        self._writer.close()
        old, self._writer, self._temp = self._temp, None, None
        kept = pq.ParquetFile(old)
        self.rows = self.row_groups = 0
        self._group_rows = []
        for group in range(row_groups):
            table = kept.read_row_group(group)
            self._open().write_table(table, row_group_size=table.num_rows)
            self.rows += table.num_rows
            self.row_groups += 1
            self._group_rows.append(table.num_rows)
        kept.close()
        old.unlink(missing_ok=True)

    def commit(self) -> int:
        """Publish the batch (an empty one too: the input was read and holds no records); its row count.
        A batch already landed is left untouched."""
        if self.target.exists():
            self.abort()
            return 0
        if self._writer is None:
            self._open()
        assert self._writer is not None and self._temp is not None
        self._writer.close()
        self._writer = None
        _publish(self._temp, self.target)
        self._temp = None
        return self.rows

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None
