"""Files a careless or hostile person drops (issue #21), each written by the test itself: the reader either
reads every value, with a field issue where one cannot be used, or refuses the file in plain words."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from connectors.core.landing import LandingZone
from connectors.files.forms import read_form_export
from connectors.files.spreadsheets import (
    FORMULA_WITHOUT_VALUE,
    UnreadableFileError,
    read_order_spreadsheet,
    read_spreadsheet,
)


def _records(result):
    return result.table.to_pylist()


def _unreadable_reason(path: Path, inbox: Path, reader=read_spreadsheet) -> str:
    with pytest.raises(UnreadableFileError) as raised:
        reader(path, inbox_dir=inbox)
    return str(raised.value)


def _contact_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "고객"
    sheet.append(["이름", "이메일", "휴대폰"])
    for n in range(200):
        sheet.append([f"고객{n}", f"user{n}@hanbit.kr", f"010-2345-{n:04d}"])
    workbook.save(path)
    return path


def test_an_html_page_saved_as_xls_is_refused_with_what_to_do(inbox):
    path = inbox / "고객목록.xls"
    path.write_text(
        "<html><head><meta charset='utf-8'></head><body><table><tr><td>이름</td><td>이메일</td></tr>"
        "<tr><td>김민수</td><td>minsu@hanbit.kr</td></tr></table></body></html>",
        encoding="utf-8",
    )
    assert _unreadable_reason(path, inbox) == (
        "고객목록.xls: not a spreadsheet: the file is an HTML page saved with an .xls name — "
        "export it again as .xlsx or .csv"
    )


@pytest.mark.parametrize("name", ["empty.xlsx", "empty.csv", "empty.xls"])
def test_an_empty_file_is_refused_as_empty(inbox, name):
    (inbox / name).write_bytes(b"")
    assert _unreadable_reason(inbox / name, inbox) == f"{name}: the file is empty"


def test_an_empty_form_capture_is_refused_as_empty(inbox):
    (inbox / "hook.jsonl").write_bytes(b"")
    assert (
        _unreadable_reason(inbox / "hook.jsonl", inbox, read_form_export) == "hook.jsonl: the file is empty"
    )


def test_a_truncated_workbook_is_damaged_at_the_end_of_its_zip(inbox):
    whole = _contact_workbook(inbox / "whole.xlsx").read_bytes()
    (inbox / "whole.xlsx").unlink()
    (inbox / "cut.xlsx").write_bytes(whole[: len(whole) // 2])
    assert _unreadable_reason(inbox / "cut.xlsx", inbox) == (
        "cut.xlsx: the workbook is damaged (unexpected end of zip)"
    )


def test_a_workbook_with_corrupt_data_inside_its_zip_is_damaged(inbox):
    path = _contact_workbook(inbox / "flipped.xlsx")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 20, start + info.compress_size - 20, 7):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    assert (
        _unreadable_reason(path, inbox)
        == "flipped.xlsx: the workbook is damaged (corrupt data inside the zip)"
    )


def test_a_tab_separated_text_saved_as_xls_is_read_as_the_table_it_is(inbox):
    path = inbox / "export.xls"
    path.write_text("이름\t이메일\n김민수\tminsu@hanbit.kr\n", encoding="utf-8")
    [record] = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert record["email"] == "minsu@hanbit.kr"


def test_a_formula_without_a_saved_value_keeps_its_formula_text_and_an_issue(inbox):
    # openpyxl writes formulas without cached values, as many scripts and web exports do.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "고객"
    sheet.append(["이름", "아이디", "이메일", "휴대폰"])
    sheet.append(["김민수", "minsu", '=B2&"@hanbit.kr"', "010-2345-6789"])
    sheet.append(["이영희", "young", "young@hanbit.kr", '="010-3456-"&"7890"'])
    workbook.save(inbox / "formulas.xlsx")

    first, second = _records(read_spreadsheet(inbox / "formulas.xlsx", inbox_dir=inbox))
    assert first["raw_email"] == '=B2&"@hanbit.kr"'
    assert json.loads(first["raw_row"])["이메일"] == '=B2&"@hanbit.kr"'
    assert f"이메일: {FORMULA_WITHOUT_VALUE}" in first["field_issues"]
    assert first["phone"] == "+821023456789"
    assert second["email"] == "young@hanbit.kr"
    assert f"휴대폰: {FORMULA_WITHOUT_VALUE}" in second["field_issues"]


def test_a_formula_with_a_saved_value_lands_the_value(inbox, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["이름", "이메일"])
    sheet.append(["김민수", '=LOWER("MINSU@HANBIT.KR")'])
    workbook.save(tmp_path / "plain.xlsx")
    # Add the cached value Excel would have saved next to the formula.
    with (
        zipfile.ZipFile(tmp_path / "plain.xlsx") as source,
        zipfile.ZipFile(inbox / "saved.xlsx", "w") as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                assert "<v />" in text
                text = text.replace("<v />", "<v>minsu@hanbit.kr</v>").replace(
                    '<c r="B2"', '<c r="B2" t="str"'
                )
                data = text.encode()
            target.writestr(info, data)
    [record] = _records(read_spreadsheet(inbox / "saved.xlsx", inbox_dir=inbox))
    assert record["email"] == "minsu@hanbit.kr"
    assert record["field_issues"] is None


def test_an_email_column_under_a_merged_contact_header_becomes_the_email(inbox):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "명단"
    sheet.append(["이름", "연락처", None, "회사"])
    sheet.append([None, "이메일", "전화", None])
    sheet.merge_cells("B1:C1")
    sheet.merge_cells("A1:A2")
    sheet.merge_cells("D1:D2")
    sheet.append(["김민수", "minsu@hanbit.kr", "010-2345-6789", "한빛"])
    workbook.save(inbox / "merged.xlsx")

    result = read_spreadsheet(inbox / "merged.xlsx", inbox_dir=inbox)
    [record] = _records(result)
    assert result.sheets[0].mapping == {"이름": "name", "이메일": "email", "전화": "phone", "회사": "company"}
    assert (record["email"], record["phone"], record["company"]) == (
        "minsu@hanbit.kr",
        "+821023456789",
        "한빛",
    )
    assert record["_source_row"] == 3


def test_a_two_row_header_in_a_csv_maps_its_sub_headers(inbox, write_csv):
    rows = [
        ["고객정보", "", "연락처", ""],
        ["이름", "회사", "이메일", "휴대폰"],
        ["김민수", "한빛", "minsu@hanbit.kr", ""],
    ]
    [record] = _records(read_spreadsheet(write_csv(inbox / "two.csv", rows), inbox_dir=inbox))
    assert (record["full_name"], record["email"], record["company"]) == ("김민수", "minsu@hanbit.kr", "한빛")


def test_a_data_row_below_the_header_is_never_taken_for_sub_headers(inbox, write_csv):
    rows = [
        ["이름", "연락처", "비고"],
        ["김민수", "010-2345-6789", "이메일 문의"],
        ["이영희", "010-3456-7890", ""],
    ]
    records = _records(read_spreadsheet(write_csv(inbox / "one.csv", rows), inbox_dir=inbox))
    assert [r["phone"] for r in records] == ["+821023456789", "+821034567890"]


def test_a_row_longer_than_its_header_keeps_the_extra_cells(inbox):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["이름", "이메일"])
    sheet.append(["김민수", "minsu@hanbit.kr", "메모 칸 밖"])
    workbook.save(inbox / "wide.xlsx")
    [record] = _records(read_spreadsheet(inbox / "wide.xlsx", inbox_dir=inbox))
    assert json.loads(record["raw_row"])["column C"] == "메모 칸 밖"


def test_a_workbook_streams_into_its_batch_and_a_failed_read_leaves_nothing(inbox, tmp_path):
    zone = LandingZone(tmp_path / "landing", "spreadsheets", "contacts")
    zone.prepare()
    writer = zone.open_batch("b1")
    result = read_spreadsheet(_contact_workbook(inbox / "big.xlsx"), inbox_dir=inbox, sink=writer)
    assert result.table.num_rows == 0 and result.rows_read == 200
    assert writer.commit() == 200
    assert pq.read_table(zone.batch_path("b1")).num_rows == 200

    (inbox / "cut.xlsx").write_bytes((inbox / "big.xlsx").read_bytes()[:500])
    writer = zone.open_batch("b2")
    with pytest.raises(UnreadableFileError):
        read_order_spreadsheet(inbox / "cut.xlsx", inbox_dir=inbox, sink=writer)
    writer.abort()
    assert zone.batch_ids() == ["b1"]
    assert not [p for p in zone.directory.iterdir() if p.name.startswith(".tmp-")]


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_a_jsonl_line_nested_ten_thousand_deep_is_quarantined_with_its_line_and_the_valid_lines_land(inbox):
    path = inbox / "hook.jsonl"
    lines = [
        '{"email": "minsu@hanbit.kr", "name": "김민수"}',
        _nested(10_000),
        _nested(500),
        '{"email": "young@hanbit.kr", "name": "이영희"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = _records(read_form_export(path, inbox_dir=inbox))
    assert [r["email"] for r in records] == ["minsu@hanbit.kr", None, None, "young@hanbit.kr"]
    assert [r["_source_row"] for r in records] == [1, 2, 3, 4]
    assert records[1]["rejection_reason"] == (
        "hook.jsonl line 2: nested more than 64 levels deep: not a form submission"
    )
    assert json.loads(records[1]["raw_row"])["line"] == lines[1]
    assert records[2]["rejection_reason"].startswith("hook.jsonl line 3: nested more than 64 levels")


def test_a_json_array_with_a_too_deep_element_lands_the_others(inbox):
    path = inbox / "hook.json"
    path.write_text(f'[{{"email": "minsu@hanbit.kr"}}, {_nested(300)}]', encoding="utf-8")
    first, second = _records(read_form_export(path, inbox_dir=inbox))
    assert first["email"] == "minsu@hanbit.kr"
    assert (
        second["rejection_reason"]
        == "hook.json element 2: nested more than 64 levels deep: not a form submission"
    )


def test_a_json_document_too_deep_to_read_is_refused_by_name(inbox):
    path = inbox / "deep.json"
    path.write_text(_nested(10_000), encoding="utf-8")
    assert _unreadable_reason(path, inbox, read_form_export) == (
        "deep.json: the JSON is nested more than 64 levels deep: not a form submission"
    )


def test_a_workbook_saved_with_a_csv_name_is_binary_not_text(inbox):
    _contact_workbook(inbox / "book.xlsx").rename(inbox / "book.csv")
    assert _unreadable_reason(inbox / "book.csv", inbox) == (
        "book.csv: not a text table: the file holds binary data (is it a workbook or an image saved with a "
        ".csv name?)"
    )
