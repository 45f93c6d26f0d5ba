from functools import partial

import pyarrow.parquet as pq
import pytest

from connectors.core.landing import LandingZone
from connectors.files.inbox import inbox_files, ingest_inbox
from connectors.files.spreadsheets import read_spreadsheet

HEADER = "고객번호,이름,휴대폰,이메일\n"


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(rows), encoding="utf-8")


@pytest.fixture
def inbox(tmp_path):
    inbox = tmp_path / "inbox" / "spreadsheets"
    _write(inbox / "a.csv", ["1,김민수,010-2345-6789,minsu@hanbit.kr\n", "2,이영희,010-3456-7890,\n"])
    _write(inbox / "team" / "b.csv", ["7,박지훈,,jihoon@hanbit.kr\n"])
    return inbox


@pytest.fixture
def zone(tmp_path):
    return LandingZone(tmp_path / "landing", "spreadsheets", "contacts")


def _ingest(inbox, zone, workers=1):
    read = partial(read_spreadsheet, inbox_dir=inbox)
    return ingest_inbox(inbox, zone, read, (".csv", ".xlsx"), workers=workers)


def _landed(zone):
    return pq.read_table(zone.directory, schema=zone.schema).sort_by("source_record_id")


def test_every_file_lands_once_as_a_batch_named_by_its_content(inbox, zone):
    report = _ingest(inbox, zone)
    assert [(f.file, f.status, f.rows_read) for f in report.files] == [
        ("a.csv", "landed", 2),
        ("team/b.csv", "landed", 1),
    ]
    assert sorted(zone.batch_ids()) == sorted(f.batch_id for f in report.files)
    assert _landed(zone).num_rows == 3


def test_ingesting_again_or_dropping_a_copy_lands_nothing_new(inbox, zone):
    _ingest(inbox, zone)
    (inbox / "copy of a.csv").write_bytes((inbox / "a.csv").read_bytes())
    report = _ingest(inbox, zone)
    assert {f.status for f in report.files} == {"already_landed"}
    assert report.rows_read == 0
    assert _landed(zone).num_rows == 3


def test_two_copies_dropped_together_land_once(tmp_path, inbox, zone):
    (inbox / "a (1).csv").write_bytes((inbox / "a.csv").read_bytes())
    report = _ingest(inbox, zone)
    assert sorted(f.status for f in report.files) == ["already_landed", "landed", "landed"]
    assert _landed(zone).num_rows == 3


def test_an_edited_file_lands_as_a_new_batch_and_the_old_one_stays(inbox, zone):
    _ingest(inbox, zone)
    _write(inbox / "a.csv", ["1,김민수,010-2345-6789,minsu.kim@hanbit.kr\n", "2,이영희,010-3456-7890,\n"])
    report = _ingest(inbox, zone)
    assert [(f.file, f.status) for f in report.files] == [
        ("a.csv", "landed"),
        ("team/b.csv", "already_landed"),
    ]
    landed = _landed(zone)
    assert landed.num_rows == 5
    rows = landed.select(["source_record_id", "email"]).to_pylist()
    versions = [row["email"] for row in rows if row["source_record_id"].endswith("id=1")]
    assert sorted(versions) == ["minsu.kim@hanbit.kr", "minsu@hanbit.kr"]


def test_parallel_workers_land_the_same_rows_as_one(tmp_path, inbox):
    serial = LandingZone(tmp_path / "serial", "spreadsheets", "contacts")
    parallel = LandingZone(tmp_path / "parallel", "spreadsheets", "contacts")
    _ingest(inbox, serial, workers=1)
    _ingest(inbox, parallel, workers=2)
    assert serial.batch_ids() == parallel.batch_ids()
    columns = ["source_record_id", "email", "phone", "rejection_reason"]
    assert _landed(serial).select(columns).equals(_landed(parallel).select(columns))


def test_an_unreadable_file_is_reported_by_name_and_the_others_still_land(inbox, zone):
    (inbox / "broken.xlsx").write_bytes(b"not a zip at all")
    report = _ingest(inbox, zone)
    [failed] = report.failed
    assert failed.file == "broken.xlsx"
    assert "broken.xlsx" in failed.error
    assert len(report.landed) == 2
    assert not zone.has_batch(failed.batch_id)


def test_hidden_files_and_office_lock_files_are_not_inbox_files(inbox):
    (inbox / "~$a.xlsx").write_bytes(b"lock")
    (inbox / ".hidden.csv").write_text("x")
    (inbox / "notes.txt").write_text("x")
    names = [p.relative_to(inbox).as_posix() for p in inbox_files(inbox, (".csv", ".xlsx"))]
    assert names == ["a.csv", "team/b.csv"]


def test_a_file_read_with_other_options_lands_again_as_a_new_version(tmp_path, zone):
    # Regression: the batch id was the file's hash alone, so a new header synonym never re-read a file.
    inbox = tmp_path / "inbox" / "spreadsheets"
    inbox.mkdir(parents=True)
    (inbox / "hp.csv").write_text("이름,이메일,HP\n김민수,minsu@,010-2345-6789\n", encoding="utf-8")

    def ingest(synonyms):
        read = partial(read_spreadsheet, inbox_dir=inbox, extra_synonyms=synonyms)
        return ingest_inbox(inbox, zone, read, (".csv",), reading={"extra_synonyms": synonyms})

    first = ingest({})
    assert first.rows_rejected == 1
    assert {f.status for f in ingest({}).files} == {"already_landed"}
    second = ingest({"phone": ["HP"]})
    assert [f.status for f in second.files] == ["landed"]
    assert second.rows_rejected == 0
    assert len(zone.batch_ids()) == 2
    assert zone.row_count() == 2
