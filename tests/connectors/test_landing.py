import os
import time
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from connectors.landing import (
    CONTACT_RECORD_SCHEMA,
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
