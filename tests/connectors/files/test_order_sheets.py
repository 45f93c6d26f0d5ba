"""Order sheets: telling them from contact lists, and reading their rows into order records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from connectors.core.landing import ORDER_READER_SCHEMA, ORDER_RECORD_SCHEMA
from connectors.core.normalize import parse_amount, parse_currency, parse_quantity
from connectors.files.headers import SynonymTable, find_header_row, find_order_header_row, map_headers
from connectors.files.inbox import SPREADSHEET_SUFFIXES, ingest_inbox
from connectors.files.orders import orders_zone
from connectors.files.spreadsheets import (
    ORDER_SHEET_SKIPPED,
    UnreadableFileError,
    read_order_spreadsheet,
    read_spreadsheet,
)

ORDER_HEADER = ["주문번호", "주문일자", "고객명", "연락처", "이메일", "상품명", "수량", "결제금액"]
CONTACT_HEADER = ["이름", "휴대폰", "이메일", "회사명"]
KST_MIDNIGHT_0305 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def _orders(result) -> list[dict]:
    return result.table.to_pylist()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("₩1,200,000", (Decimal("1200000"), "KRW"), id="won-sign"),
        pytest.param("1,200,000원", (Decimal("1200000"), "KRW"), id="won-suffix"),
        pytest.param("1,200,000 원", (Decimal("1200000"), "KRW"), id="won-suffix-spaced"),
        pytest.param("120만원", (Decimal("1200000"), "KRW"), id="man-won"),
        pytest.param("1억 2,000만", (Decimal("120000000"), None), id="eok-man"),
        pytest.param("12.5만", (Decimal("125000"), None), id="decimal-man"),
        pytest.param("$1,234.50", (Decimal("1234.50"), "USD"), id="dollar"),
        pytest.param("USD 1,234.50", (Decimal("1234.50"), "USD"), id="iso-prefix"),
        pytest.param("50000 krw", (Decimal("50000"), "KRW"), id="iso-suffix"),
        pytest.param("1.234,50 €", (Decimal("1234.50"), "EUR"), id="european"),
        pytest.param("-5,000", (Decimal("-5000"), None), id="minus"),
        pytest.param("(5,000)", (Decimal("-5000"), None), id="accounting-brackets"),
        pytest.param("△5,000", (Decimal("-5000"), None), id="korean-accounting-triangle"),
        pytest.param("₩-3,000", (Decimal("-3000"), "KRW"), id="sign-after-symbol"),
        pytest.param("１２,０００원", (Decimal("12000"), "KRW"), id="full-width-digits"),
        pytest.param(45000, (Decimal("45000"), None), id="excel-integer"),
        pytest.param(12.5, (Decimal("12.5"), None), id="excel-float"),
        pytest.param("0", (Decimal("0"), None), id="zero"),
    ],
)
def test_parse_amount_reads_amounts_as_people_write_them(raw, expected):
    amount, currency, problem = parse_amount(raw)
    assert problem is None
    assert (amount, currency) == expected


@pytest.mark.parametrize(
    "raw", ["무료", "1,2", "1,20,000", "10 EUR $", "₩10 USD", "abc", "12-34", "inf", True]
)
def test_parse_amount_rejects_what_is_not_one_amount(raw):
    amount, currency, problem = parse_amount(raw)
    assert (amount, currency) == (None, None)
    assert "is not an amount" in problem


def test_parse_amount_keeps_blank_absent_and_refuses_absurd_sizes():
    assert parse_amount("  ") == (None, None, None)
    assert parse_amount(None) == (None, None, None)
    assert parse_amount("1,000,000,000,000,000")[2] is not None


@pytest.mark.parametrize(
    ("raw", "code"),
    [("KRW", "KRW"), ("krw", "KRW"), ("원", "KRW"), ("₩", "KRW"), ("달러", "USD"), ("eur", "EUR")],
)
def test_parse_currency_reads_codes_words_and_symbols(raw, code):
    assert parse_currency(raw) == (code, None)


def test_parse_currency_and_quantity_report_what_they_cannot_read():
    assert parse_currency("원화 아님")[1] == "'원화 아님' is not a currency"
    assert parse_quantity("3개") == (3.0, None)
    assert parse_quantity("1,200") == (1200.0, None)
    assert parse_quantity("많이")[1] == "'많이' is not a quantity"


@pytest.mark.parametrize(
    "header",
    [
        ["주문일자", "고객명", "연락처", "결제금액"],
        ["주문 일시", "주문자", "주문자 연락처", "주문금액(원)"],
        ["결제일", "이메일", "합계"],
        ["Order Date", "Customer", "Email", "Order Total"],
        ["date ordered", "Name", "Phone", "Amount (USD)"],
    ],
)
def test_an_order_header_names_an_order_date_an_amount_and_the_buyer(header):
    assert find_order_header_row([["2024 주문내역"], [], header]) == 2


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(["이름", "연락처", "이메일", "등록일"], id="contact-list"),
        pytest.param(["날짜", "고객명", "연락처", "금액"], id="a-plain-date-is-no-order-date"),
        pytest.param(["주문일자", "결제금액", "상품명"], id="no-buyer-column"),
        pytest.param(["주문일자", "고객명", "연락처", "배송비"], id="shipping-fee-is-no-amount"),
        pytest.param(["이름", "연락처", "누적 구매금액"], id="lifetime-spend-without-order-date"),
    ],
)
def test_a_table_without_order_date_amount_and_buyer_is_no_order_sheet(header):
    assert find_order_header_row([header]) is None


def test_in_an_order_sheet_the_recipient_and_the_sales_rep_are_not_the_buyer():
    headers = ["주문일자", "결제금액", "주문자명", "수령인 연락처", "받는분 이름", "담당자", "주문자 이메일"]
    mapping = map_headers(headers, SynonymTable.build(orders=True))
    assert {headers[i]: field for i, field in mapping.items()} == {
        "주문일자": "order_at",
        "결제금액": "amount",
        "주문자명": "name",
        "주문자 이메일": "email",
    }


def test_order_columns_are_not_contact_fields_in_a_contact_list():
    headers = ["이름", "연락처", "금액", "주문일자"]
    assert set(map_headers(headers).values()) == {"name", "phone"}
    assert find_header_row([headers]) == 0


def test_extra_synonyms_can_name_order_columns():
    header = ["Bestelldatum", "Kunde", "E-Mail", "Summe"]
    assert find_order_header_row([header]) is None
    extra = {"order_at": ["Bestelldatum"], "amount": ["Summe"], "name": ["Kunde"]}
    assert find_order_header_row([header], extra) == 0
    with pytest.raises(ValueError, match="unknown field"):
        SynonymTable.build({"price": ["단가"]}, orders=True)


def _workbook(write_xlsx, path):
    return write_xlsx(
        path,
        {
            "고객": [CONTACT_HEADER, ["김민수", "010-2345-6789", "minsu@haneul.kr", "하늘상사"]],
            "주문": [
                ["2024년 3월 주문내역"],
                [],
                [*ORDER_HEADER, "비고"],
                ["A-1", date(2024, 3, 5), "김민수", "010-2345-6789", None, "케이크", 2, 45000, None],
                ["A-2", "2024년 3월 6일", "이영희", None, None, "쿠키", "3개", "₩12,000", "단골"],
                ["A-3", "어제", None, None, None, "쿠키", 1, "무료", None],
                [
                    "A-4",
                    datetime(2024, 3, 7, 14, 30),
                    "Jane Doe",
                    None,
                    "Jane@X.com",
                    "Tea",
                    1,
                    "$12.50",
                    None,
                ],
                ["A-2", "2024-03-08", "이영희", None, None, "쿠키", -1, "-4,000원", "환불"],
            ],
            "메모": [["주문 관련 문의는 010-9999-0000으로"]],
        },
    )


def test_a_workbook_with_a_contact_sheet_and_an_order_sheet_splits_between_the_readers(inbox, write_xlsx):
    path = _workbook(write_xlsx, inbox / "주문내역.xlsx")

    contacts = read_spreadsheet(path, inbox_dir=inbox)
    assert [r["raw_name"] for r in contacts.table.to_pylist()] == ["김민수"]
    skipped = {report.sheet: report.skipped_reason for report in contacts.sheets}
    assert skipped["주문"] == ORDER_SHEET_SKIPPED
    assert skipped["고객"] is None

    orders = read_order_spreadsheet(path, inbox_dir=inbox)
    assert [report.sheet for report in orders.sheets] == ["주문"]
    [report] = orders.sheets
    assert (report.header_row, report.rows_read, report.rows_rejected) == (3, 5, 1)
    assert report.mapping["결제금액"] == "amount"
    assert report.extra_columns == ["비고"]
    assert orders.table.schema == ORDER_READER_SCHEMA


def test_order_rows_are_parsed_with_their_buyer_and_raw_cells(inbox, write_xlsx):
    path = _workbook(write_xlsx, inbox / "주문내역.xlsx")
    rows = _orders(read_order_spreadsheet(path, inbox_dir=inbox))
    first, second, _, fourth, refund = rows
    assert first["source_record_id"] == "주문내역.xlsx:주문:row=4"
    assert (first["order_id"], first["ordered_at"], first["amount"], first["currency"]) == (
        "A-1",
        KST_MIDNIGHT_0305,
        Decimal("45000"),
        "KRW",
    )
    assert (first["full_name"], first["phone"], first["quantity"], first["product"]) == (
        "김민수",
        "+821023456789",
        2.0,
        "케이크",
    )
    assert second["ordered_at"] == datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    assert (second["raw_amount"], second["amount"], second["quantity"]) == ("₩12,000", Decimal("12000"), 3.0)
    assert (second["email"], second["phone"], second["rejection_reason"]) == (None, None, None)
    assert json.loads(second["attributes"]) == {"비고": "단골"}
    assert (fourth["amount"], fourth["currency"], fourth["email"]) == (Decimal("12.5"), "USD", "jane@x.com")
    assert fourth["ordered_at"] == datetime(2024, 3, 7, 5, 30, tzinfo=UTC)
    assert (refund["order_id"], refund["amount"], refund["quantity"]) == ("A-2", Decimal("-4000"), -1.0)


def test_a_bad_order_row_lands_with_a_reason_naming_file_sheet_row_and_columns(inbox, write_xlsx):
    path = _workbook(write_xlsx, inbox / "주문내역.xlsx")
    bad = _orders(read_order_spreadsheet(path, inbox_dir=inbox))[2]
    assert bad["rejection_reason"] == (
        "주문내역.xlsx sheet '주문' row 6: 주문일자 (order_at): '어제' is not a recognised date/time; "
        "결제금액 (amount): '무료' is not an amount; "
        "no way to tell the buyer (no valid email or phone, and no name)"
    )
    assert (bad["raw_ordered_at"], bad["raw_amount"], bad["amount"]) == ("어제", "무료", None)
    assert json.loads(bad["raw_row"])["상품명"] == "쿠키"


def test_a_cp949_order_csv_is_read_and_the_contact_reader_passes_it_over(inbox, write_csv):
    path = write_csv(
        inbox / "주문.csv",
        [
            ["주문일자", "주문자", "휴대폰", "결제금액", "통화"],
            ["2024.03.05", "박지훈", "010-5555-1234", "1,200,000", ""],
            ["2024-03-06 오후 2:31", "박지훈", "010-5555-1234", "99.90", "USD"],
            ["2024-03-07", "", "010-1234-5678", "5000", ""],
            ["", "최유진", "", "", "엔"],
        ],
        encoding="cp949",
    )
    orders = read_order_spreadsheet(path, inbox_dir=inbox, default_currency="usd")
    assert orders.encoding == "cp949"
    rows = _orders(orders)
    assert [(r["amount"], r["currency"]) for r in rows[:2]] == [
        (Decimal("1200000"), "USD"),
        (Decimal("99.90"), "USD"),
    ]
    assert rows[1]["ordered_at"] == datetime(2024, 3, 6, 5, 31, tzinfo=UTC)
    assert rows[0]["source_record_id"] == "주문.csv::row=2"
    # A placeholder phone identifies nobody, and a row with no buyer at all is rejected.
    assert rows[2]["rejection_reason"].startswith("주문.csv row 4: no way to tell the buyer")
    assert "phone: placeholder value" in rows[2]["field_issues"]
    assert rows[3]["rejection_reason"] == (
        "주문.csv row 5: 주문일자 (order_at): empty; 결제금액 (amount): empty"
    )

    contacts = read_spreadsheet(path, inbox_dir=inbox)
    assert contacts.table.num_rows == 0
    assert [report.skipped_reason for report in contacts.sheets] == [ORDER_SHEET_SKIPPED]


@pytest.mark.parametrize(
    ("amount", "currency_cell", "expected"),
    [
        pytest.param("10000", "", (Decimal("10000"), "JPY", None), id="default"),
        pytest.param("₩10000", "", (Decimal("10000"), "KRW", None), id="symbol-beats-default"),
        pytest.param("10000", "usd", (Decimal("10000"), "USD", None), id="column-beats-default"),
        pytest.param("10000원", "KRW", (Decimal("10000"), "KRW", None), id="column-and-symbol-agree"),
        pytest.param(
            "10000원",
            "USD",
            (Decimal("10000"), "USD", "통화 (currency): USD contradicts the amount '10000원' written in KRW"),
            id="column-and-symbol-disagree",
        ),
        pytest.param(
            "10000",
            "doubloons",
            (Decimal("10000"), "JPY", "통화 (currency): 'doubloons' is not a currency"),
            id="unknown-currency",
        ),
    ],
)
def test_currency_comes_from_the_column_else_the_symbol_else_the_default(
    inbox, write_csv, amount, currency_cell, expected
):
    path = write_csv(
        inbox / "o.csv",
        [["주문일자", "이메일", "금액", "통화"], ["2024-03-05", "a@x.kr", amount, currency_cell]],
    )
    [row] = _orders(read_order_spreadsheet(path, inbox_dir=inbox, default_currency="JPY"))
    reason = row["rejection_reason"]
    assert (row["amount"], row["currency"], reason and reason.split(": ", 1)[1]) == expected


def test_the_default_currency_must_be_an_iso_code(inbox, write_csv):
    path = write_csv(inbox / "o.csv", [["주문일자", "이메일", "금액"], ["2024-03-05", "a@x.kr", "1"]])
    with pytest.raises(ValueError, match="ISO 4217"):
        read_order_spreadsheet(path, inbox_dir=inbox, default_currency="won!")


def test_a_contact_file_has_no_orders_and_an_unreadable_one_still_fails(inbox, write_csv):
    path = write_csv(inbox / "leads.csv", [CONTACT_HEADER, ["김민수", "010-2345-6789", "a@x.kr", ""]])
    result = read_order_spreadsheet(path, inbox_dir=inbox)
    assert (result.table.num_rows, result.sheets) == (0, [])
    notes = write_csv(inbox / "notes.csv", [["메모"], ["내일 주문 확인"]])
    assert read_order_spreadsheet(notes, inbox_dir=inbox).table.num_rows == 0
    with pytest.raises(UnreadableFileError, match="for orders 주문일자/order date"):
        read_spreadsheet(notes, inbox_dir=inbox)
    broken = inbox / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(UnreadableFileError, match=r"broken\.xlsx"):
        read_order_spreadsheet(broken, inbox_dir=inbox)


def test_a_workbook_with_only_an_order_sheet_is_no_unreadable_contact_file(inbox, write_xlsx):
    path = write_xlsx(
        inbox / "o.xlsx", {"orders": [ORDER_HEADER, ["1", "2024-03-05", "김민수", "", "", "", "", "100"]]}
    )
    contacts = read_spreadsheet(path, inbox_dir=inbox)
    assert contacts.table.num_rows == 0
    assert [r.skipped_reason for r in contacts.sheets] == [ORDER_SHEET_SKIPPED]
    assert _orders(read_order_spreadsheet(path, inbox_dir=inbox))[0]["full_name"] == "김민수"


def test_orders_land_once_per_file_in_their_own_zone(tmp_path, inbox, write_xlsx, write_csv):
    _workbook(write_xlsx, inbox / "주문내역.xlsx")
    write_csv(inbox / "leads.csv", [CONTACT_HEADER, ["김민수", "010-2345-6789", "a@x.kr", ""]])
    zone = orders_zone(tmp_path / "landing")

    def read(path, sink=None):
        return read_order_spreadsheet(path, inbox_dir=inbox, sink=sink)

    first = ingest_inbox(inbox, zone, read, SPREADSHEET_SUFFIXES)
    assert (len(first.landed), first.rows_read, first.rows_rejected) == (2, 5, 1)
    assert zone.directory == tmp_path / "landing" / "spreadsheets" / "orders"
    assert zone.row_count() == 5
    [landed] = [pq.read_table(zone.batch_path(f.batch_id)) for f in first.landed if f.rows_read]
    assert landed.schema == ORDER_RECORD_SCHEMA
    again = ingest_inbox(inbox, zone, read, SPREADSHEET_SUFFIXES)
    assert (len(again.landed), len(again.already_landed)) == (0, 2)
