import dagster as dg
import pyarrow.parquet as pq

from orchestration.defs.files.ingest import form_submissions, spreadsheet_contacts

CSV = "이름,휴대폰,이메일,회사명\n김민수,010-2345-6789,minsu@example.kr,한빛푸드\n이영희,,bad@,한빛푸드\n"
JSONL = (
    '{"submission_id": "s1", "name": "Jane Doe", "email": "jane.doe@hanbitfood.co.kr"}\n'
    '{"submission_id": "s2", "name": "broken"\n'
)


def _landed_rows(home, source, entity):
    directory = home / "landing" / source / entity
    return sum(pq.read_table(p).num_rows for p in directory.glob("*.parquet"))


def _metadata(result, key):
    [materialization] = result.asset_materializations_for_node(key)
    return {k: v.value for k, v in materialization.metadata.items()}


def test_spreadsheet_ingestion_reports_rows_read_landed_quarantined_and_the_header_mapping(home):
    (home / "inbox" / "spreadsheets" / "고객.csv").write_bytes(CSV.encode("cp949"))
    result = dg.materialize([spreadsheet_contacts])
    meta = _metadata(result, "spreadsheets__contacts")
    assert meta["rows_read"] == 2
    assert meta["rows_landed"] == 2
    assert meta["rows_quarantined"] == 1
    assert meta["dagster/row_count"] == 2
    assert meta["encodings"] == {"고객.csv": "cp949"}
    assert "휴대폰 → phone" in meta["header_mapping"]
    assert _landed_rows(home, "spreadsheets", "contacts") == 2


def test_running_ingestion_again_lands_nothing_twice(home):
    (home / "inbox" / "spreadsheets" / "a.csv").write_text(CSV, encoding="utf-8")
    dg.materialize([spreadsheet_contacts])
    (home / "inbox" / "spreadsheets" / "copy-of-a.csv").write_text(CSV, encoding="utf-8")
    result = dg.materialize([spreadsheet_contacts])
    meta = _metadata(result, "spreadsheets__contacts")
    assert meta["files_landed"] == 0
    assert meta["files_already_landed"] == 2
    assert meta["rows_read"] == 0
    assert _landed_rows(home, "spreadsheets", "contacts") == 2


def test_an_unreadable_file_is_quarantined_the_asset_succeeds_and_its_check_warns(home):
    # Regression: one unreadable file failed the asset, so dbt was skipped and the warehouse stayed stale.
    (home / "inbox" / "spreadsheets" / "good.csv").write_text(CSV, encoding="utf-8")
    (home / "inbox" / "spreadsheets" / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    (home / "inbox" / "spreadsheets" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    result = dg.materialize([spreadsheet_contacts])
    assert result.success
    assert _landed_rows(home, "spreadsheets", "contacts") == 2
    meta = _metadata(result, "spreadsheets__contacts")
    assert meta["files_quarantined"] == ["broken.xlsx: the workbook is damaged (unexpected end of zip)"]
    assert meta["files_skipped"] == [".DS_Store: a macOS folder settings file"]
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "inbox_files_readable"
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert "broken.xlsx: the workbook is damaged (unexpected end of zip)" in check.description
    assert not any(spec.blocking for spec in spreadsheet_contacts.check_specs)
    [record] = pq.read_table(home / "landing" / "quarantine" / "files").to_pylist()
    assert (record["file"], record["status"], record["size_bytes"]) == ("broken.xlsx", "unreadable", 27)


def test_every_file_read_passes_the_readable_check(home):
    (home / "inbox" / "forms" / "hooks.jsonl").write_text(JSONL, encoding="utf-8")
    [check] = dg.materialize([form_submissions]).get_asset_check_evaluations()
    assert check.passed


def test_form_ingestion_lands_a_broken_json_line_for_quarantine(home):
    (home / "inbox" / "forms" / "hooks.jsonl").write_text(JSONL, encoding="utf-8")
    result = dg.materialize([form_submissions])
    meta = _metadata(result, "forms__submissions")
    assert (meta["rows_read"], meta["rows_quarantined"]) == (2, 1)
    assert _landed_rows(home, "forms", "submissions") == 2


def test_a_form_line_nested_ten_thousand_deep_never_crashes_the_asset(home):
    # Regression: RecursionError failed forms__submissions with no file name, and the valid line never landed.
    deep = '{"a": ' * 10_000 + "1" + "}" * 10_000
    (home / "inbox" / "forms" / "hooks.jsonl").write_text(
        '{"submission_id": "s1", "email": "jane.doe@hanbitfood.co.kr"}\n' + deep + "\n", encoding="utf-8"
    )
    result = dg.materialize([form_submissions])
    meta = _metadata(result, "forms__submissions")
    assert (meta["rows_read"], meta["rows_quarantined"], meta["files_quarantined"]) == (2, 1, [])
    rows = pq.read_table(home / "landing" / "forms" / "submissions").to_pylist()
    assert [r["email"] for r in sorted(rows, key=lambda r: r["_source_row"])] == [
        "jane.doe@hanbitfood.co.kr",
        None,
    ]
