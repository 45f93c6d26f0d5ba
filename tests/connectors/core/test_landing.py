import os
import time
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.core.landing import (
    CONTACT_RECORD_SCHEMA,
    READER_SCHEMA,
    SCHEMA_FILE,
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    LandingZone,
)


def _row(n: int) -> dict:
    return {
        "_source": "spreadsheets",
        "_source_file": "a.csv",
        "_source_sheet": None,
        "_source_row": n,
        "source_record_id": f"a.csv::row={n}",
        "email": f"person{n}@example.kr",
    }


@pytest.fixture
def zone(tmp_path):
    zone = LandingZone(tmp_path / "landing", "spreadsheets", "contacts")
    zone.prepare()
    return zone


def test_prepare_writes_a_zero_row_schema_file_that_pins_every_column_type(zone):
    table = pq.read_table(zone.directory / SCHEMA_FILE)
    assert table.num_rows == 0
    assert table.schema.equals(CONTACT_RECORD_SCHEMA, check_metadata=False)


def test_a_batch_is_stamped_with_one_load_id_and_time_and_keeps_the_schema(zone):
    loaded_at = datetime(2024, 3, 5, 1, 2, 3, tzinfo=UTC)
    assert zone.write_batch("b1", [_row(1), _row(2)], loaded_at=loaded_at) == 2
    table = pq.read_table(zone.batch_path("b1"))
    assert table.schema.equals(CONTACT_RECORD_SCHEMA, check_metadata=False)
    assert table.column("_load_id").to_pylist() == ["b1", "b1"]
    assert table.column("_loaded_at").to_pylist() == [loaded_at, loaded_at]
    assert table.column("email").to_pylist() == ["person1@example.kr", "person2@example.kr"]


def test_writing_a_batch_that_already_landed_changes_nothing(zone):
    zone.write_batch("b1", [_row(1)])
    before = zone.batch_path("b1").read_bytes()
    assert zone.write_batch("b1", [_row(1), _row(2)]) == 0
    assert zone.batch_path("b1").read_bytes() == before
    assert zone.batch_ids() == ["b1"]


def test_a_batch_is_never_visible_half_written(zone):
    zone.write_batch("b1", [_row(n) for n in range(1000)])
    leftovers = [p for p in zone.directory.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert leftovers == []
    assert pq.read_table(zone.batch_path("b1")).num_rows == 1000


def test_prepare_removes_stale_temporaries_of_a_crashed_writer_but_not_fresh_ones(zone):
    stale = zone.directory / f"{TEMP_PREFIX}dead-b9.parquet{TEMP_SUFFIX}"
    fresh = zone.directory / f"{TEMP_PREFIX}live-b8.parquet{TEMP_SUFFIX}"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    zone.prepare()
    assert not stale.exists()
    assert fresh.exists()
    # A temporary never matches the glob dbt reads.
    assert not fresh.name.endswith(".parquet")


def _before_birthdays(schema):
    return pa.schema([f for f in schema if f.name not in ("raw_birthday", "birthday")])


def test_prepare_brings_an_old_schema_file_up_to_date_and_leaves_old_batches_as_they_landed(tmp_path):
    """A home landed before birthdays existed: its schema file and batches lack the columns."""
    zone = LandingZone(tmp_path / "landing", "spreadsheets", "contacts")
    zone.directory.mkdir(parents=True)
    old_schema = _before_birthdays(CONTACT_RECORD_SCHEMA)
    pq.write_table(old_schema.empty_table(), zone.directory / SCHEMA_FILE)
    old_row = {**_row(1), "_load_id": "old", "_loaded_at": datetime(2024, 1, 1, tzinfo=UTC)}
    pq.write_table(pa.Table.from_pylist([old_row], schema=old_schema), zone.batch_path("old"))
    old_bytes = zone.batch_path("old").read_bytes()

    zone.prepare()
    zone.write_batch("new", [{**_row(2), "raw_birthday": "1990. 3. 15", "birthday": "1990-03-15"}])

    assert pq.read_schema(zone.directory / SCHEMA_FILE).equals(CONTACT_RECORD_SCHEMA, check_metadata=False)
    assert zone.batch_path("old").read_bytes() == old_bytes
    table = zone.read_columns(["source_record_id", "birthday"]).sort_by("source_record_id")
    assert table.to_pylist() == [
        {"source_record_id": "a.csv::row=1", "birthday": None},
        {"source_record_id": "a.csv::row=2", "birthday": "1990-03-15"},
    ]


def test_prepare_leaves_a_current_schema_file_alone(zone):
    schema_file = zone.directory / SCHEMA_FILE
    before = schema_file.stat().st_ino  # a rewrite renames a new file into place
    zone.prepare()
    assert schema_file.stat().st_ino == before


def _batch(rows: range) -> pa.Table:
    return pa.Table.from_pylist([_row(n) for n in rows], schema=READER_SCHEMA)


def test_a_streamed_batch_is_invisible_until_committed_and_stamped_like_a_whole_one(zone):
    loaded_at = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    writer = zone.open_batch("streamed", loaded_at=loaded_at)
    writer.write(_batch(range(3)))
    writer.write(_batch(range(3, 5)))
    assert zone.batch_ids() == []  # dbt's *.parquet glob sees nothing yet
    assert writer.commit() == 5
    table = pq.read_table(zone.batch_path("streamed"))
    assert table.schema.equals(CONTACT_RECORD_SCHEMA, check_metadata=False)
    assert set(table.column("_load_id").to_pylist()) == {"streamed"}
    assert set(table.column("_loaded_at").to_pylist()) == {loaded_at}
    assert table.column("_source_row").to_pylist() == [0, 1, 2, 3, 4]


def test_truncating_a_streamed_batch_keeps_its_first_row_groups_and_abort_leaves_nothing(zone):
    writer = zone.open_batch("partial")
    for start in (0, 10, 20):
        writer.write(_batch(range(start, start + 2)))
    writer.truncate(1)  # the sheet read after the first group failed part-way
    writer.write(_batch(range(30, 31)))
    assert writer.commit() == 3
    assert pq.read_table(zone.batch_path("partial")).column("_source_row").to_pylist() == [0, 1, 30]

    aborted = zone.open_batch("aborted")
    aborted.write(_batch(range(2)))
    aborted.abort()
    assert zone.batch_ids() == ["partial"]
    assert not [p for p in zone.directory.iterdir() if p.name.startswith(TEMP_PREFIX)]
