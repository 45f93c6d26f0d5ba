import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.core.landing import READER_SCHEMA, LandingZone
from connectors.core.records import MAX_FIELD_CHARS
from connectors.files import forms, headers, spreadsheets
from connectors.files.spreadsheets import UnreadableFileError, read_spreadsheet

HEADER = ["번호", "이름", "이메일", "휴대폰", "회사명", "메모"]
ROWS = [
    ["1", "김 민수", "Kim@Naver.com", "010-2345-6789", "(주)가나", "VIP"],
    ["2", "이영희", "lee@daum.net", "", "", ""],
]
MTIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _records(result) -> list[dict]:
    return result.table.to_pylist()


def _set_mtime(path: Path) -> None:
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949"), ("euc-kr", "cp949")],
)
def test_csv_encoding_is_detected_and_reported(inbox, write_csv, encoding, reported):
    path = write_csv(inbox / "leads.csv", [HEADER, *ROWS], encoding=encoding)
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.encoding == reported
    records = _records(result)
    assert [r["raw_name"] for r in records] == ["김 민수", "이영희"]
    assert records[0]["company"] == "(주)가나"
    assert list(json.loads(records[0]["raw_row"])) == HEADER
    assert result.sheets[0].mapping["이름"] == "name"


def test_csv_in_another_encoding_falls_back_to_charset_detection(inbox, write_csv):
    path = write_csv(
        inbox / "leads.csv", [["name", "email"], ["Zoë Müller", "zoe@x.de"]] * 20, encoding="cp1252"
    )
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.encoding not in ("utf-8", "utf-8-sig", "cp949")
    assert _records(result)[0]["raw_name"] == "Zoë Müller"


def test_undecodable_csv_is_unreadable(inbox):
    path = inbox / "leads.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(
        UnreadableFileError, match=r"leads\.csv: not a text table: the file holds binary data"
    ):
        read_spreadsheet(path, inbox_dir=inbox)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_sniffed(inbox, write_csv, delimiter):
    rows = [HEADER, *ROWS, ["3", "박, 지훈", "park@x.com", "", "", "a;b"]]
    path = write_csv(inbox / "leads.csv", rows, delimiter=delimiter)
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [r["raw_name"] for r in records] == ["김 민수", "이영희", "박, 지훈"]
    assert records[2]["attributes"] == '{"메모": "a;b"}'


def test_csv_title_rows_above_the_header_are_skipped_and_rows_keep_their_line_numbers(inbox, write_csv):
    rows = [["2024년 3월 고객 명단"], [], ["작성: 영업팀"], HEADER, *ROWS]
    path = write_csv(inbox / "leads.csv", rows)
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.sheets[0].header_row == 4
    assert [r["_source_row"] for r in _records(result)] == [5, 6]


def test_csv_record_carries_raw_and_normalised_values(inbox, write_csv):
    path = write_csv(inbox / "crm" / "leads.csv", [HEADER, *ROWS])
    _set_mtime(path)  # the file's time is not the row's: an undated row stays undated
    first = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert first == {
        "_source": "spreadsheets",
        "_source_file": "crm/leads.csv",
        "_source_sheet": None,
        "_source_row": 2,
        "source_record_id": "crm/leads.csv::id=1",
        "record_at": None,
        "raw_name": "김 민수",
        "raw_email": "Kim@Naver.com",
        "raw_phone": "010-2345-6789",
        "raw_company": "(주)가나",
        "raw_consent_email": None,
        "raw_birthday": None,
        "raw_row": json.dumps(dict(zip(HEADER, ROWS[0], strict=True)), ensure_ascii=False),
        "attributes": '{"메모": "VIP"}',
        "full_name": "김민수",
        "email": "kim@naver.com",
        "phone": "+821023456789",
        "phone_type": "mobile",
        "company": "(주)가나",
        "consent_email": None,
        "birthday": None,
        "field_issues": None,
        "rejection_reason": None,
    }


def test_csv_raw_row_keeps_every_column_and_attributes_only_filled_extras(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [HEADER, *ROWS])
    second = _records(read_spreadsheet(path, inbox_dir=inbox))[1]
    assert json.loads(second["raw_row"]) == {
        "번호": "2",
        "이름": "이영희",
        "이메일": "lee@daum.net",
        "휴대폰": None,
        "회사명": None,
        "메모": None,
    }
    assert second["attributes"] is None


def test_table_has_exactly_the_reader_schema_and_lands(inbox, write_csv, tmp_path):
    path = write_csv(inbox / "leads.csv", [HEADER, *ROWS])
    table = read_spreadsheet(path, inbox_dir=inbox).table
    assert table.schema == READER_SCHEMA
    zone = LandingZone(tmp_path / "landing", "spreadsheets", "contacts")
    zone.prepare()
    assert zone.write_batch("batch-1", table) == 2


def test_row_with_too_many_cells_is_rejected_with_its_raw_cells(inbox, write_csv):
    rows = [HEADER, ROWS[0], ["2", "이영희", "lee@daum.net", "", "", "", "extra"], ROWS[1]]
    path = write_csv(inbox / "leads.csv", rows)
    result = read_spreadsheet(path, inbox_dir=inbox)
    bad = _records(result)[1]
    assert bad["rejection_reason"] == "leads.csv row 3: row has 7 cells, the header has 6"
    assert json.loads(bad["raw_row"]) == {"cells": rows[2]}
    assert bad["source_record_id"] == "leads.csv::row=3"
    assert (result.sheets[0].rows_read, result.sheets[0].rows_rejected) == (3, 1)


def test_row_with_too_few_cells_is_rejected(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [HEADER, ["1", "김민수", "kim@x.com"]])
    assert _records(read_spreadsheet(path, inbox_dir=inbox))[0]["rejection_reason"] == (
        "leads.csv row 2: row has 3 cells, the header has 6"
    )


def test_trailing_empty_cells_beyond_the_header_are_tolerated(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [[*HEADER, "", ""], [*ROWS[0], "", "", ""]])
    record = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert record["rejection_reason"] is None
    assert record["email"] == "kim@naver.com"


def test_quoted_line_breaks_stay_in_the_cell_and_rows_keep_their_first_line_number(inbox, write_csv):
    rows = [HEADER, ["1", "김민수", "kim@x.com", "", "", "첫 줄\n둘째 줄"], ROWS[1]]
    records = _records(read_spreadsheet(write_csv(inbox / "leads.csv", rows), inbox_dir=inbox))
    assert [r["_source_row"] for r in records] == [2, 4]
    assert json.loads(records[0]["attributes"]) == {"메모": "첫 줄\n둘째 줄"}


def test_a_cell_longer_than_the_csv_modules_default_limit_keeps_its_row(inbox, write_csv):
    # Regression: csv.field_size_limit() is 131,072 by default; a longer note made the whole row unparseable
    # and landed it with raw_row {"cells": []}, its valid email gone.
    rows = [HEADER, ["1", "김민수", "kim@x.com", "", "", "x" * 131_073], ROWS[1]]
    records = _records(read_spreadsheet(write_csv(inbox / "leads.csv", rows), inbox_dir=inbox))
    assert records[0]["rejection_reason"] is None
    assert records[0]["email"] == "kim@x.com"
    assert json.loads(records[0]["raw_row"])["메모"] == "x" * 131_073
    assert records[1]["email"] == "lee@daum.net"


def test_an_oversize_mapped_cell_is_cut_in_its_field_with_an_issue_and_kept_whole_in_raw_row(
    inbox, write_csv
):
    long_name = "김" * 131_073
    rows = [HEADER, ["1", long_name, "kim@x.com", "", "", ""]]
    record = _records(read_spreadsheet(write_csv(inbox / "leads.csv", rows), inbox_dir=inbox))[0]
    assert len(record["raw_name"]) == MAX_FIELD_CHARS
    assert record["field_issues"] == (
        "name: the cell holds 131,073 characters, more than the 32,767 a field keeps; cut there "
        "(raw_row has it whole)"
    )
    assert json.loads(record["raw_row"])["이름"] == long_name
    assert record["email"] == "kim@x.com"


def test_duplicate_header_text_gets_a_unique_key_and_the_first_column_wins(inbox, write_csv):
    rows = [["이름", "이메일", "이메일"], ["a", "a@x.com", "a2@x.com"]]
    result = read_spreadsheet(write_csv(inbox / "leads.csv", rows), inbox_dir=inbox)
    record = _records(result)[0]
    assert record["email"] == "a@x.com"
    assert json.loads(record["raw_row"]) == {"이름": "a", "이메일": "a@x.com", "이메일 (2)": "a2@x.com"}
    assert result.sheets[0].extra_columns == ["이메일 (2)"]


def test_blank_rows_are_not_records(inbox, write_csv):
    path = write_csv(
        inbox / "leads.csv", [HEADER, ROWS[0], [], ["", "", "", "", "", ""], [" ", "", "", "", "", ""]]
    )
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.table.num_rows == 1
    assert result.sheets[0].rows_read == 1


def test_formula_like_cell_is_kept_as_text(inbox, write_csv):
    rows = [HEADER, ["1", '=HYPERLINK("http://evil")', "kim@x.com", "", "=1+1", "=cmd|' /C calc'!A0"]]
    path = write_csv(inbox / "leads.csv", rows)
    record = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert record["raw_name"] == '=HYPERLINK("http://evil")'
    assert record["company"] == "=1+1"
    assert json.loads(record["attributes"]) == {"메모": "=cmd|' /C calc'!A0"}


@pytest.mark.parametrize(
    ("email", "phone", "reason"),
    [
        ("kim@", "", "no valid email or phone (email: 'kim@' is not a valid address; phone empty)"),
        (
            "",
            "02-12",
            "no valid email or phone (email empty; phone: '02-12' is not a valid phone number for region KR)",
        ),
        (
            "test@test.com",
            "",
            "no valid email or phone (email: placeholder value; phone empty)",
        ),
        (
            "test@naver.com",
            "010-1234-5678",
            "no valid email or phone (email: placeholder value; phone: placeholder value)",
        ),
        ("", "", "no valid email or phone (email empty; phone empty)"),
    ],
)
def test_row_without_a_valid_email_or_phone_is_rejected_with_its_raw_values(
    inbox, write_csv, email, phone, reason
):
    path = write_csv(inbox / "leads.csv", [HEADER, ["7", "김민수", email, phone, "가나", ""]])
    record = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert record["rejection_reason"] == f"leads.csv row 2: {reason}"
    assert record["raw_name"] == "김민수"
    assert record["raw_email"] == (email or None)
    assert record["full_name"] == "김민수"


def test_placeholder_channels_are_field_issues_that_do_not_echo_the_value(inbox, write_csv):
    path = write_csv(
        inbox / "leads.csv", [HEADER, ["1", "김민수", "test@naver.com", "010-2345-6789", "", ""]]
    )
    record = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert record["rejection_reason"] is None
    assert (record["email"], record["raw_email"]) == (None, "test@naver.com")
    assert record["field_issues"] == "email: placeholder value"


def test_row_with_one_bad_channel_is_accepted_with_a_field_issue(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [HEADER, ["1", "김민수", "kim@x.com", "02-12", "", ""]])
    record = _records(read_spreadsheet(path, inbox_dir=inbox))[0]
    assert record["rejection_reason"] is None
    assert record["phone"] is None
    assert record["raw_phone"] == "02-12"
    assert record["field_issues"] == "phone: '02-12' is not a valid phone number for region KR"


def test_default_region_applies_to_national_numbers(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [["name", "phone"], ["Ann", "(650) 253-0000"]])
    assert _records(read_spreadsheet(path, inbox_dir=inbox))[0]["phone"] is None
    assert (
        _records(read_spreadsheet(path, inbox_dir=inbox, default_region="US"))[0]["phone"] == "+16502530000"
    )


def test_consent_column_is_parsed_and_unknown_answers_are_field_issues(inbox, write_csv):
    rows = [
        ["이름", "이메일", "마케팅 수신 동의"],
        ["a", "a@x.com", "동의"],
        ["b", "b@x.com", "거부"],
        ["c", "c@x.com", "글쎄"],
    ]
    path = write_csv(inbox / "leads.csv", rows)
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [r["consent_email"] for r in records] == [True, False, None]
    assert records[2]["raw_consent_email"] == "글쎄"
    assert records[2]["field_issues"] == "consent_email: '글쎄' is not a recognised yes/no answer"


def test_id_column_identifies_records_and_rows_without_an_id_fall_back_to_row_numbers(inbox, write_csv):
    rows = [
        ["고객번호", "이름", "이메일"],
        ["C-17", "a", "a@x.com"],
        ["", "b", "b@x.com"],
        ["C-17", "c", "c@x.com"],
    ]
    path = write_csv(inbox / "leads.csv", rows)
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [r["source_record_id"] for r in records] == [
        "leads.csv::id=C-17",
        "leads.csv::row=3",
        "leads.csv::row=4",
    ]
    assert records[2]["field_issues"] == (
        "record_id: 'C-17' repeats the id of row 2; this row is identified by its number"
    )
    assert records[2]["rejection_reason"] is None


def test_sheet_without_an_id_column_uses_row_numbers(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [["이름", "이메일"], ["a", "a@x.com"]])
    assert _records(read_spreadsheet(path, inbox_dir=inbox))[0]["source_record_id"] == "leads.csv::row=2"


def test_record_at_comes_from_the_date_column_only_never_the_file_time(inbox, write_csv):
    rows = [
        ["이름", "이메일", "등록일"],
        ["a", "a@x.com", "2024.03.05"],
        ["b", "b@x.com", ""],
        ["c", "c@x.com", "어제"],
    ]
    path = write_csv(inbox / "leads.csv", rows)
    _set_mtime(path)
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [r["record_at"] for r in records] == [datetime(2024, 3, 4, 15, 0, tzinfo=UTC), None, None]
    assert records[1]["field_issues"] is None
    assert records[2]["field_issues"] == "record_at: '어제' is not a recognised date/time"


def test_local_time_zone_is_a_parameter(inbox, write_csv):
    path = write_csv(
        inbox / "leads.csv", [["이름", "이메일", "등록일"], ["a", "a@x.com", "2024-03-05 09:00"]]
    )
    record = _records(read_spreadsheet(path, inbox_dir=inbox, local_tz="UTC"))[0]
    assert record["record_at"] == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def test_extra_synonyms_map_custom_headers(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [["Kunde", "Handy", "비고"], ["Anna", "010-2345-6789", "x"]])
    with pytest.raises(UnreadableFileError):
        read_spreadsheet(path, inbox_dir=inbox)
    result = read_spreadsheet(path, inbox_dir=inbox, extra_synonyms={"name": ["Kunde"], "phone": ["Handy"]})
    assert result.sheets[0].mapping == {"Kunde": "name", "Handy": "phone"}
    assert result.sheets[0].extra_columns == ["비고"]
    assert _records(result)[0]["phone"] == "+821023456789"


def test_csv_without_a_recognisable_header_is_unreadable(inbox, write_csv):
    path = write_csv(inbox / "notes.csv", [["회의록"], ["다음 주 월요일까지"]])
    with pytest.raises(UnreadableFileError, match=r"notes\.csv: no recognisable header row"):
        read_spreadsheet(path, inbox_dir=inbox)


def test_unsupported_file_type_is_unreadable(inbox):
    path = inbox / "leads.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(UnreadableFileError, match=r"leads\.pdf: not a spreadsheet"):
        read_spreadsheet(path, inbox_dir=inbox)


def test_file_outside_the_inbox_is_a_caller_error(inbox, tmp_path, write_csv):
    path = write_csv(tmp_path / "elsewhere.csv", [HEADER, *ROWS])
    with pytest.raises(ValueError, match="not inside the inbox"):
        read_spreadsheet(path, inbox_dir=inbox)


CUSTOMERS = [
    ["2024 고객 명단"],
    [],
    ["고객번호", "성함", "연락처", "이메일 주소", "등록일", "마케팅 정보 수신 동의 (선택)", "메모"],
    [17, "JOHN SMITH", 1023456789, "john@x.com", date(2024, 3, 5), "동의", "=1+1"],
    [18, "홍 길동", "010-9999-8888", None, datetime(2024, 3, 5, 9, 0), "동의하지 않습니다", None],
    [None, None, None, None, None, None, None],
    [19, "박지훈", None, "park@", None, None, "no channel"],
]


def _workbook(inbox: Path, write_xlsx) -> Path:
    return write_xlsx(
        inbox / "crm" / "고객명단.xlsx",
        {
            "고객": CUSTOMERS,
            "설명": [["이 파일은 영업팀이 관리합니다."], ["문의: 김민수"]],
            "빈 시트": [],
        },
    )


def test_xlsx_reads_the_contact_sheet_below_its_title_rows(inbox, write_xlsx):
    result = read_spreadsheet(_workbook(inbox, write_xlsx), inbox_dir=inbox)
    records = _records(result)
    assert [(r["_source_sheet"], r["_source_row"]) for r in records] == [
        ("고객", 4),
        ("고객", 5),
        ("고객", 7),
    ]
    assert records[0]["_source_file"] == "crm/고객명단.xlsx"
    assert records[0]["source_record_id"] == "crm/고객명단.xlsx:고객:id=17"
    report = result.sheets[0]
    assert (report.sheet, report.header_row, report.rows_read, report.rows_rejected) == ("고객", 3, 3, 1)
    assert report.mapping == {
        "고객번호": "record_id",
        "성함": "name",
        "연락처": "phone",
        "이메일 주소": "email",
        "등록일": "record_at",
        "마케팅 정보 수신 동의 (선택)": "consent_email",
    }
    assert report.extra_columns == ["메모"]
    assert result.encoding is None


def test_xlsx_skips_sheets_without_a_header_and_says_why(inbox, write_xlsx):
    reports = {r.sheet: r for r in read_spreadsheet(_workbook(inbox, write_xlsx), inbox_dir=inbox).sheets}
    assert reports["설명"].skipped_reason == "no recognisable header row in the first 20 rows"
    assert reports["빈 시트"].skipped_reason == "the sheet is empty"
    assert reports["고객"].skipped_reason is None


def test_xlsx_numbers_and_dates_are_read_as_a_person_sees_them(inbox, write_xlsx):
    first, second, _ = _records(read_spreadsheet(_workbook(inbox, write_xlsx), inbox_dir=inbox))
    assert first["raw_phone"] == "1023456789"
    assert first["phone"] == "+821023456789"
    assert json.loads(first["raw_row"])["고객번호"] == "17"
    assert json.loads(first["raw_row"])["등록일"] == "2024-03-05"
    assert first["record_at"] == datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    assert second["record_at"] == datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
    assert first["full_name"] == "John Smith"
    assert second["full_name"] == "홍길동"
    assert (first["consent_email"], second["consent_email"]) == (True, False)


def test_xlsx_text_cell_starting_with_equals_is_kept_as_text(inbox, write_xlsx):
    first = _records(read_spreadsheet(_workbook(inbox, write_xlsx), inbox_dir=inbox))[0]
    assert json.loads(first["attributes"]) == {"메모": "=1+1"}


def test_xlsx_rejected_row_names_file_sheet_and_row(inbox, write_xlsx):
    third = _records(read_spreadsheet(_workbook(inbox, write_xlsx), inbox_dir=inbox))[2]
    assert third["rejection_reason"] == (
        "crm/고객명단.xlsx sheet '고객' row 7: no valid email or phone "
        "(email: 'park@' is not a valid address; phone empty)"
    )


def test_xlsx_reads_every_contact_sheet(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "two.xlsx",
        {"서울": [["이름", "이메일"], ["a", "a@x.com"]], "부산": [["name", "phone"], ["b", "010-2222-3333"]]},
    )
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [(r["_source_sheet"], r["email"] or r["phone"]) for r in records] == [
        ("서울", "a@x.com"),
        ("부산", "+821022223333"),
    ]
    assert records[1]["source_record_id"] == "two.xlsx:부산:row=2"


def test_xlsx_configured_sheet_limits_the_read(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "two.xlsx",
        {"서울": [["이름", "이메일"], ["a", "a@x.com"]], "부산": [["name", "phone"], ["b", "010-2222-3333"]]},
    )
    result = read_spreadsheet(path, inbox_dir=inbox, sheet="부산")
    assert [r.sheet for r in result.sheets] == ["부산"]
    assert [r["_source_sheet"] for r in _records(result)] == ["부산"]


def test_xlsx_missing_configured_sheet_is_unreadable(inbox, write_xlsx):
    path = _workbook(inbox, write_xlsx)
    with pytest.raises(UnreadableFileError, match="no sheet named '고객목록'"):
        read_spreadsheet(path, inbox_dir=inbox, sheet="고객목록")


def test_xlsx_with_no_usable_sheet_is_unreadable(inbox, write_xlsx):
    path = write_xlsx(inbox / "memo.xlsx", {"메모": [["회의록"], ["내용"]]})
    with pytest.raises(UnreadableFileError, match=r"memo\.xlsx: no sheet with a recognisable contact header"):
        read_spreadsheet(path, inbox_dir=inbox)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04garbage", "the workbook is damaged (unexpected end of zip)"),
        (b"not a workbook at all", "not a spreadsheet: the content is not an Excel workbook"),
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf  \r\n", "the file is empty"),
    ],
)
def test_corrupt_xlsx_is_unreadable_in_plain_words(inbox, content, message):
    path = inbox / "broken.xlsx"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError) as raised:
        read_spreadsheet(path, inbox_dir=inbox)
    assert str(raised.value).startswith(f"broken.xlsx: {message}")


def test_xlsx_columns_without_a_header_are_kept_in_raw_row_when_filled(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "wide.xlsx", {"S": [["이름", "이메일", None], ["a", "a@x.com", "note"], ["b", "b@x.com"]]}
    )
    first, second = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert json.loads(first["raw_row"]) == {"이름": "a", "이메일": "a@x.com", "column C": "note"}
    assert json.loads(first["attributes"]) == {"column C": "note"}
    assert json.loads(second["raw_row"]) == {"이름": "b", "이메일": "b@x.com"}


def test_both_readers_and_headers_export_the_file_read_contract():
    assert spreadsheets.FileRead is forms.FileRead is headers.FileRead
    assert spreadsheets.SheetReport is forms.SheetReport is headers.SheetReport
    assert spreadsheets.UnreadableFileError is forms.UnreadableFileError is headers.UnreadableFileError


def test_a_notes_sheet_whose_sentences_mention_phones_and_contacts_is_skipped_not_quarantined(
    inbox, write_xlsx
):
    # Regression: "…담당자" and "…휴대폰 번호를…" in a one-column notes sheet were taken for headers, so
    # its sentences became quarantined contact rows.
    path = write_xlsx(
        inbox / "book.xlsx",
        {
            "명단": [["이름", "휴대폰"], ["김민수", "010-2345-6789"]],
            "설명": [
                ["작성 안내"],
                [None],
                ["- 거래처: 2024년 상반기까지 등록된 담당자"],
                ["- 대표번호(02-555-1234)만 아는 경우 비고에 개인 휴대폰 번호를 따로 적어 주세요."],
            ],
        },
    )
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.table.num_rows == 1
    notes = next(s for s in result.sheets if s.sheet == "설명")
    assert notes.skipped_reason and notes.rows_read == 0


def test_a_one_column_sheet_with_an_exact_header_is_a_contact_list(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "emails.xlsx", {"Sheet1": [["이메일"], ["minsu@hanbit.kr"], ["jane@bluefork.io"]]}
    )
    assert read_spreadsheet(path, inbox_dir=inbox).table.column("email").to_pylist() == [
        "minsu@hanbit.kr",
        "jane@bluefork.io",
    ]


def test_a_sheet_of_names_without_any_channel_is_skipped_with_a_reason(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "names.xlsx",
        {
            "연락처": [["이름", "이메일"], ["김민수", "minsu@hanbit.kr"]],
            "참석자": [["이름", "회사"], ["이영희", "한빛푸드"]],
        },
    )
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.table.num_rows == 1
    assert next(s for s in result.sheets if s.sheet == "참석자").skipped_reason


BIRTHDAY_ROWS = [
    ["이름", "휴대폰", "생년월일(8자리)"],
    ["김민수", "010-2345-6789", "19900315"],
    ["이영희", "010-2345-6790", "1985. 7. 2."],
    ["박지훈", "010-2345-6791", "1992년 11월 30일"],
    ["최서연", "010-2345-6792", "900315"],
    ["정하나", "010-2345-6793", "02-30"],
    ["한지우", "010-2345-6794", ""],
]


def test_cp949_csv_birthday_column_is_read_and_a_bad_one_is_a_field_issue(inbox, write_csv):
    path = write_csv(inbox / "회원명단.csv", BIRTHDAY_ROWS, encoding="cp949")
    result = read_spreadsheet(path, inbox_dir=inbox)
    assert result.encoding == "cp949"
    assert result.sheets[0].mapping["생년월일(8자리)"] == "birthday"
    records = _records(result)
    assert [r["birthday"] for r in records] == [
        "1990-03-15",
        "1985-07-02",
        "1992-11-30",
        "1990-03-15",
        None,
        None,
    ]
    assert [r["raw_birthday"] for r in records] == [row[2] or None for row in BIRTHDAY_ROWS[1:]]
    bad = records[4]
    assert bad["rejection_reason"] is None
    assert bad["phone"] == "+821023456793"
    assert bad["field_issues"] == "birthday: '02-30' is not a real date"
    assert [r["field_issues"] for r in records if r is not bad] == [None] * 5
    assert all(r["attributes"] is None for r in records)


def test_csv_birthday_without_a_year_and_day_first_when_it_cannot_be_a_month(inbox, write_csv):
    rows = [
        ["name", "email", "Birthday (MM/DD)"],
        ["Ann", "ann@x.com", "3/15"],
        ["Bob", "bob@x.com", "15/03"],
        ["Cy", "cy@x.com", "04/05"],
        ["Di", "di@x.com", "1890-01-01"],
    ]
    records = _records(read_spreadsheet(write_csv(inbox / "us.csv", rows), inbox_dir=inbox))
    assert [r["birthday"] for r in records] == ["--03-15", "--03-15", "--04-05", None]
    assert records[3]["raw_birthday"] == "1890-01-01"
    assert records[3]["field_issues"] == "birthday: '1890-01-01' is before 1900"


def test_xlsx_birthday_date_cells_are_read_as_dates(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "members.xlsx",
        {
            "회원": [
                ["이름", "이메일", "생일"],
                ["김민수", "minsu@hanbit.kr", datetime(1990, 3, 15)],
                ["이영희", "younghee@hanbit.kr", date(1985, 7, 2)],
                ["박지훈", "jihoon@hanbit.kr", 19921130],
                ["최서연", "seoyeon@hanbit.kr", "3월 15일"],
                ["정하나", "hana@hanbit.kr", "13월 1일"],
            ]
        },
    )
    records = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert [r["birthday"] for r in records] == ["1990-03-15", "1985-07-02", "1992-11-30", "--03-15", None]
    assert records[0]["raw_birthday"].startswith("1990-03-15")
    assert records[2]["raw_birthday"] == "19921130"
    assert records[4]["field_issues"] == "birthday: '13월 1일' is not a real date"
    assert records[4]["rejection_reason"] is None


@pytest.mark.parametrize(
    ("header", "row", "full_name"),
    [
        # 성 next to 이름: 이름 is the given name, joined family name first with no space
        (["성", "이름", "이메일"], ["김", "민수", "minsu@x.kr"], "김민수"),
        (["이름", "성", "이메일"], ["민수", "남궁", "minsu@x.kr"], "남궁민수"),
        (["Last name", "First name", "Email"], ["Kim", "Minsu", "minsu@x.kr"], "Minsu Kim"),
        (["First Name", "Surname", "Email"], ["민수", "김", "minsu@x.kr"], "김민수"),
        # only one part filled in: that part
        (["성", "이름", "이메일"], ["", "민수", "minsu@x.kr"], "민수"),
        # a full name column wins over the parts
        (["Name", "First name", "Last name", "Email"], ["Kim Minsu", "M", "K", "minsu@x.kr"], "Kim Minsu"),
    ],
)
def test_a_name_in_two_columns_is_joined_in_the_order_of_its_script(inbox, write_csv, header, row, full_name):
    path = write_csv(inbox / "split.csv", [header, row])
    [record] = _records(read_spreadsheet(path, inbox_dir=inbox))
    assert record["full_name"] == full_name
    assert record["rejection_reason"] is None
