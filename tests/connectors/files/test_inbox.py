import hashlib
import os
from functools import partial

import pyarrow.parquet as pq
import pytest

from connectors.core.landing import LandingZone
from connectors.files.inbox import ingest_inbox, quarantine_zone, scan_inbox
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


def test_system_and_lock_files_are_skipped_and_named_and_other_dot_names_are_read(inbox):
    # Regression: every name starting with a dot was skipped without a word, "..한글 (1).csv" too.
    for name in ("~$a.xlsx", ".DS_Store", "._a.csv", "Thumbs.db", "desktop.ini", ".~lock.a.xlsx#"):
        (inbox / name).write_bytes(b"x")
    (inbox / "..한글 (1).csv").write_text(HEADER + "3,최수진,010-4567-8901,\n", encoding="utf-8")
    (inbox / "notes.txt").write_text("x")
    scan = scan_inbox(inbox, (".csv", ".xlsx"))
    assert [p.relative_to(inbox).as_posix() for p in scan.files] == ["..한글 (1).csv", "a.csv", "team/b.csv"]
    assert {s.file: s.reason for s in scan.skipped} == {
        ".DS_Store": "a macOS folder settings file",
        "._a.csv": "a macOS resource fork (the data is in the file of the same name without ._)",
        ".~lock.a.xlsx#": "a LibreOffice lock file (the document is open)",
        "Thumbs.db": "a Windows thumbnail cache",
        "desktop.ini": "a Windows folder settings file",
        "notes.txt": "not a file this inbox reads (.csv, .xlsx)",
        "~$a.xlsx": "an Office lock file (the document is open in Excel or Word)",
    }


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


def _quarantined(landing_dir):
    zone = quarantine_zone(landing_dir)
    return pq.read_table(zone.directory, schema=zone.schema).sort_by("file").to_pylist()


def test_symlinks_to_a_contact_list_elsewhere_and_to_etc_passwd_are_refused_and_never_read(
    tmp_path, inbox, zone
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.csv").write_text(HEADER + "9,남궁민,010-9876-5432,nam@x.kr\n", encoding="utf-8")
    (inbox / "linked.csv").symlink_to(elsewhere / "other.csv")
    (inbox / "passwd.csv").symlink_to("/etc/passwd")
    (inbox / "linked folder").symlink_to(elsewhere, target_is_directory=True)
    os.mkfifo(inbox / "pipe.csv")  # reading it would block the run forever

    report = ingest_inbox(
        inbox,
        zone,
        partial(read_spreadsheet, inbox_dir=inbox),
        (".csv",),
        quarantine=quarantine_zone(tmp_path / "landing"),
    )
    assert {f.file: f.status for f in report.files} == {
        "a.csv": "landed",
        "team/b.csv": "landed",
        "linked folder/": "refused",
        "linked.csv": "refused",
        "passwd.csv": "refused",
        "pipe.csv": "refused",
    }
    assert "a symbolic link: refused and never read" in next(f.error for f in report.refused)
    assert "nam@x.kr" not in str(_landed(zone).column("raw_row").to_pylist())
    records = _quarantined(tmp_path / "landing")
    assert [(r["file"], r["status"], r["sha256"]) for r in records] == [
        ("linked folder/", "refused", None),
        ("linked.csv", "refused", None),
        ("passwd.csv", "refused", None),
        ("pipe.csv", "refused", None),
    ]
    assert records[0]["reason"].startswith("a symbolic link: refused")
    assert records[3]["reason"] == "not a regular file (a pipe, socket or device): refused"


def test_an_unreadable_file_is_quarantined_once_with_size_hash_and_reason(tmp_path, inbox, zone):
    content = b"<!DOCTYPE html><html><body><table><tr><td>x</td></tr></table></body></html>"
    (inbox / "export.xls").write_bytes(content)
    (inbox / "empty.csv").write_bytes(b"")
    read = partial(read_spreadsheet, inbox_dir=inbox)
    landing = tmp_path / "landing"
    for _ in range(2):
        report = ingest_inbox(inbox, zone, read, (".csv", ".xls"), quarantine=quarantine_zone(landing))
        assert [f.file for f in report.quarantined] == ["empty.csv", "export.xls"]
        assert len(report.landed) + len(report.already_landed) == 2
    records = _quarantined(landing)
    assert [(r["file"], r["size_bytes"], r["sha256"], r["status"], r["reason"]) for r in records] == [
        ("empty.csv", 0, hashlib.sha256(b"").hexdigest(), "unreadable", "the file is empty"),
        (
            "export.xls",
            len(content),
            hashlib.sha256(content).hexdigest(),
            "unreadable",
            "not a spreadsheet: the file is an HTML page saved with an .xls name — "
            "export it again as .xlsx or .csv",
        ),
    ]
    assert {r["inbox"] for r in records} == {"spreadsheets"}


def test_a_reader_that_crashes_on_a_file_quarantines_that_file_only(tmp_path, inbox, zone):
    def read(path, sink=None):
        if path.name == "a.csv":
            raise RecursionError("maximum recursion depth exceeded")
        return read_spreadsheet(path, inbox_dir=inbox, sink=sink)

    report = ingest_inbox(inbox, zone, read, (".csv",), quarantine=quarantine_zone(tmp_path / "landing"))
    [failed] = report.failed
    assert failed.error == "a.csv: could not be read (RecursionError: maximum recursion depth exceeded)"
    assert [f.file for f in report.landed] == ["team/b.csv"]
    assert not [p for p in zone.directory.iterdir() if p.name.startswith(".tmp-")]
