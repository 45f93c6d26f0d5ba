"""Reading the contact lists and order sheets that people keep in spreadsheets: ``.csv`` (any common
encoding and delimiter) and Excel workbooks (every sheet, or one named sheet).

Every table (a CSV, a sheet) is one of two kinds: an order sheet (its header names an order date, an
amount and the buyer, see ``connectors.files.headers.find_order_header_row``), or else a contact list (a
header naming an email or phone column). ``read_spreadsheet`` returns the contact lists of a file and reports
its order sheets as skipped; ``read_order_spreadsheet`` returns its order sheets only. A workbook may
hold both kinds.

Cells are data, never code: a cell starting with ``=`` is kept as text, and a workbook formula yields
the value Excel cached for it (nothing is evaluated).
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import charset_normalizer
import python_calamine

from connectors.core.normalize import cell_text, parse_currency
from connectors.core.records import FileRead, RecordBuilder, SheetReport, TableRecords, relative_posix_path
from connectors.files.headers import (
    HEADER_SEARCH_ROWS,
    SynonymTable,
    UnreadableFileError,
    find_header_row,
    find_order_header_row,
    map_headers,
)
from connectors.files.orders import OrderRecords, order_builder

__all__ = [
    "CSV_SUFFIXES",
    "EXCEL_SUFFIXES",
    "FileRead",
    "SheetReport",
    "UnreadableFileError",
    "detect_encoding",
    "read_csv_table",
    "read_order_spreadsheet",
    "read_spreadsheet",
    "sniff_delimiter",
]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls"})
# Data rows after the header that decide ambiguous headers such as "번호" (id or phone?).
SAMPLE_ROWS = 200
_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
CONTACTS, ORDERS = "contacts", "orders"
ORDER_SHEET_SKIPPED = "an order sheet (landed in spreadsheets/orders)"


class _Tables:
    """What one reader wants from a file's tables: which kind it keeps, and how it builds their records."""

    def __init__(
        self,
        kind: str,
        builder: RecordBuilder,
        extra_synonyms: Mapping[str, Sequence[str]] | None,
        default_currency: str = "KRW",
    ) -> None:
        self.kind = kind
        self.builder = builder
        self.contact_synonyms = SynonymTable.build(extra_synonyms)
        self.order_synonyms: SynonymTable | None = SynonymTable.build(extra_synonyms, orders=True)
        self.default_currency = default_currency

    @classmethod
    def contacts_only(cls, builder: RecordBuilder, synonyms: SynonymTable) -> _Tables:
        """Contact lists only, with these synonyms: a form export is never an order sheet."""
        tables = cls(CONTACTS, builder, None)
        tables.contact_synonyms, tables.order_synonyms = synonyms, None
        return tables

    def locate(self, head: Sequence[Sequence[str | None]]) -> tuple[str, int] | None:
        """``(kind, header index)`` of a table from its first rows; None when it is neither kind."""
        if self.order_synonyms is not None:
            index = find_order_header_row(head, self.order_synonyms)
            if index is not None:
                return ORDERS, index
        index = find_header_row(head, self.contact_synonyms)
        if index is not None:
            return CONTACTS, index
        return None

    def records(
        self,
        *,
        sheet: str | None,
        headers: list[str | None],
        sample: list[list[str | None]],
        header_row: int,
        where: str,
        column_name: Callable[[int], str],
    ) -> TableRecords | OrderRecords:
        if self.kind == ORDERS:
            return OrderRecords(
                self.builder,
                sheet=sheet,
                headers=headers,
                mapping=map_headers(headers, self.order_synonyms, sample_rows=sample),
                header_row=header_row,
                where=where,
                column_name=column_name,
                default_currency=self.default_currency,
            )
        return TableRecords(
            self.builder,
            sheet=sheet,
            headers=headers,
            mapping=map_headers(headers, self.contact_synonyms, sample_rows=sample),
            header_row=header_row,
            where=where,
            column_name=column_name,
        )


def read_spreadsheet(
    path: Path,
    *,
    inbox_dir: Path,
    default_region: str = "KR",
    sheet: str | None = None,
    extra_synonyms: Mapping[str, Sequence[str]] | None = None,
    local_tz: str = "Asia/Seoul",
) -> FileRead:
    """Read one contact spreadsheet into records of ``READER_SCHEMA`` (``_source`` = "spreadsheets").

    ``sheet`` limits a workbook to that sheet (ignored for CSV). A record is identified by the sheet's
    own id column when it has one (``"<file>:<sheet>:id=<value>"``), else by its row
    (``"<file>:<sheet>:row=<n>"``). ``record_at`` comes from the row's own date cell; a row without one
    (no date column, an empty or unreadable cell) is undated, never dated by the file's save time.
    A sheet that fails part-way lands none of its rows and is reported skipped with the reason.
    Raises ``UnreadableFileError`` when the file as a whole cannot be read; a bad row becomes a
    rejected record instead.
    """
    path = Path(path)
    relative = relative_posix_path(path, inbox_dir)
    builder = RecordBuilder(
        source="spreadsheets",
        relative_file=relative,
        region=default_region,
        local_tz=local_tz,
        id_key=lambda sheet_name, value: f"{relative}:{sheet_name or ''}:id={value}",
        row_key=lambda sheet_name, row: f"{relative}:{sheet_name or ''}:row={row}",
    )
    return _read_file(path, _Tables(CONTACTS, builder, extra_synonyms), sheet)


def read_order_spreadsheet(
    path: Path,
    *,
    inbox_dir: Path,
    default_region: str = "KR",
    sheet: str | None = None,
    extra_synonyms: Mapping[str, Sequence[str]] | None = None,
    local_tz: str = "Asia/Seoul",
    default_currency: str = "KRW",
) -> FileRead:
    """Read the order sheets of one spreadsheet into records of ``ORDER_READER_SCHEMA``.

    A file without an order sheet gives no records and no sheet reports; its contact lists are
    ``read_spreadsheet``'s. Each row is identified by its position (``"<file>:<sheet>:row=<n>"``).
    ``default_currency`` (an ISO code) applies to amounts with neither a currency cell nor a symbol.
    Raises ``UnreadableFileError`` only when the file as a whole cannot be read.
    """
    path = Path(path)
    currency, problem = parse_currency(default_currency)
    if problem or currency is None:
        raise ValueError(f"default currency {default_currency!r} is not an ISO 4217 code")
    builder = order_builder(relative_posix_path(path, inbox_dir), region=default_region, local_tz=local_tz)
    return _read_file(path, _Tables(ORDERS, builder, extra_synonyms, currency), sheet)


def _read_file(path: Path, tables: _Tables, sheet: str | None) -> FileRead:
    builder = tables.builder
    relative = builder.relative_file
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        report, encoding = read_csv_table(path, builder, tables)
        return FileRead(builder.table(), [report] if report is not None else [], encoding)
    if suffix in EXCEL_SUFFIXES:
        reports = _read_workbook(path, tables, sheet)
        return FileRead(builder.table(), reports, None)
    raise UnreadableFileError(f"{relative}: not a spreadsheet (expected .csv or .xlsx, got {path.suffix!r})")


def detect_encoding(path: Path, relative: str | None = None) -> tuple[str, str]:
    """``(codec to open the file with, encoding to report)``.

    UTF-8 (with or without BOM) is tried strictly first, then CP949 (a superset of EUC-KR and what
    Korean Excel writes), then whatever charset-normalizer finds.
    """
    with path.open("rb") as handle:
        has_bom = handle.read(3) == codecs.BOM_UTF8
    if _decodes(path, "utf-8"):
        return "utf-8-sig", "utf-8-sig" if has_bom else "utf-8"
    if not has_bom and _decodes(path, "cp949"):
        return "cp949", "cp949"
    best = charset_normalizer.from_path(path).best()
    if best is None:
        raise UnreadableFileError(
            f"{relative or path.name}: cannot decode the text: it is not UTF-8 or CP949/EUC-KR "
            "and no other encoding fits (is it a binary file?)"
        )
    return best.encoding, best.encoding


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's lines into the most rows of one consistent width.

    Rows of a single cell (titles, blank lines) do not count; a tie keeps the earlier of , ; tab |.
    """
    lines = sample.splitlines()[:100]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        widths = Counter(len(row) for row in csv.reader(lines, delimiter=delimiter) if len(row) > 1)
        if not widths:
            continue
        width, rows = widths.most_common(1)[0]
        score = (rows, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv_table(
    path: Path, builder: RecordBuilder, tables: SynonymTable | _Tables
) -> tuple[SheetReport | None, str]:
    """Read a delimited text file into ``builder``; return its report (None when it is a table of the
    other kind, for an order reader) and the detected encoding. Given a ``SynonymTable``, the file is
    read as a contact list with those synonyms (form exports)."""
    if isinstance(tables, SynonymTable):
        tables = _Tables.contacts_only(builder, tables)
    relative = builder.relative_file
    codec, encoding = detect_encoding(path, relative)
    try:
        with path.open(encoding=codec, newline="", errors="strict") as handle:
            delimiter = sniff_delimiter(handle.read(64 * 1024))
            handle.seek(0)
            report = _read_csv_rows(_numbered_rows(csv.reader(handle, delimiter=delimiter)), tables)
    except UnicodeDecodeError as error:
        raise UnreadableFileError(f"{relative}: cannot decode the text as {encoding} ({error})") from error
    return report, encoding


def _numbered_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """``(first line number, cells)`` per CSV record; a record the csv module rejects yields its error."""
    previous_line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield previous_line + 1, error
            previous_line = reader.line_num
            continue
        yield previous_line + 1, row
        previous_line = reader.line_num


def _read_csv_rows(rows: Iterator[tuple[int, list[str] | csv.Error]], tables: _Tables) -> SheetReport | None:
    relative = tables.builder.relative_file
    head: list[tuple[int, list[str] | csv.Error]] = []
    for numbered in rows:
        head.append(numbered)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    texts_of = [cells if isinstance(cells, list) else [] for _, cells in head]
    located = tables.locate(texts_of)
    if located is None:
        if tables.kind == ORDERS:
            return None
        raise UnreadableFileError(
            f"{relative}: no recognisable header row in the first {HEADER_SEARCH_ROWS} rows "
            "(need columns such as 이름/name, 이메일/email or 연락처/phone, or for orders "
            "주문일자/order date and 결제금액/amount)"
        )
    kind, header_index = located
    if kind != tables.kind:
        return SheetReport(None, None, skipped_reason=ORDER_SHEET_SKIPPED) if kind == ORDERS else None
    header_line, header_cells = head[header_index]
    headers: list[str | None] = [cell or None for cell in header_cells]
    while headers and headers[-1] is None:
        headers.pop()
    width = len(headers)

    pending = head[header_index + 1 :]
    for numbered in rows:
        pending.append(numbered)
        if len(pending) >= SAMPLE_ROWS:
            break
    sample = [[cell or None for cell in cells] for _, cells in pending if isinstance(cells, list)]
    table = tables.records(
        sheet=None,
        headers=headers,
        sample=sample,
        header_row=header_line,
        where=f"{relative} row ",
        column_name=lambda index: f"column {index + 1}",
    )
    add = table.add
    for line, cells in _chain(pending, rows):
        if isinstance(cells, csv.Error):
            table.add_unparseable(line, f"not readable as CSV ({cells})", {"cells": []})
            continue
        if len(cells) != width:
            if not any(cells):
                continue
            if len(cells) > width and not any(cells[width:]):
                cells = cells[:width]
            else:
                table.add_unparseable(
                    line, f"row has {len(cells)} cells, the header has {width}", {"cells": cells}
                )
                continue
        add(line, [cell or None for cell in cells])
    return table.report


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _read_workbook(path: Path, tables: _Tables, only_sheet: str | None) -> list[SheetReport]:
    builder = tables.builder
    relative = builder.relative_file
    try:
        workbook = python_calamine.load_workbook(str(path))
    except Exception as error:  # calamine raises several unrelated types for damaged files
        raise UnreadableFileError(f"{relative}: not a readable Excel workbook ({error})") from error
    names = workbook.sheet_names
    if only_sheet is not None and only_sheet not in names:
        raise UnreadableFileError(
            f"{relative}: has no sheet named {only_sheet!r} (sheets: {', '.join(map(repr, names))})"
        )
    reports = []
    tables_found = 0
    for name in [only_sheet] if only_sheet is not None else names:
        # A sheet is all or nothing: one that fails part-way must not land the rows read before the error
        # while its report says skipped, so its records are discarded and the sheet is reported skipped.
        mark = builder.checkpoint()
        try:
            sheet = workbook.get_sheet_by_name(name)
            kind, report = _read_sheet(sheet, name, tables)
        except UnreadableFileError:
            raise
        except Exception as error:  # one damaged sheet must not hide the others
            builder.rollback(mark)
            kind, report = None, SheetReport(name, None, skipped_reason=f"cannot read the sheet ({error})")
        tables_found += kind is not None
        # The order reader speaks of order sheets only: the contact reader reports every other sheet.
        if report is not None and (tables.kind == CONTACTS or kind == ORDERS):
            reports.append(report)
    if tables.kind == ORDERS:
        return reports
    if not tables_found:
        reasons = "; ".join(f"{report.sheet!r}: {report.skipped_reason}" for report in reports)
        raise UnreadableFileError(f"{relative}: no sheet with a recognisable contact header ({reasons})")
    return reports


def _read_sheet(
    sheet: python_calamine.CalamineSheet, name: str, tables: _Tables
) -> tuple[str | None, SheetReport | None]:
    """``(kind of the sheet or None, report)``; the report is None for a sheet of the kind the reader
    does not keep and does not mention (a contact list, for the order reader)."""
    builder = tables.builder
    first_column = sheet.start[1] if sheet.start else 0
    rows = iter(sheet.iter_rows())
    head: list[list[object]] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if not any(cell != "" for row in head for cell in row):
        return None, SheetReport(name, None, skipped_reason="the sheet is empty")
    head_texts = [[cell_text(cell) for cell in row] for row in head]
    located = tables.locate(head_texts)
    if located is None:
        return None, SheetReport(
            name, None, skipped_reason=f"no recognisable header row in the first {HEADER_SEARCH_ROWS} rows"
        )
    kind, header_index = located
    if kind != tables.kind:
        return kind, SheetReport(name, None, skipped_reason=ORDER_SHEET_SKIPPED) if kind == ORDERS else None
    headers = head_texts[header_index]
    pending = head[header_index + 1 :]
    for row in rows:
        pending.append(row)
        if len(pending) >= SAMPLE_ROWS:
            break
    sample = [[cell_text(cell) for cell in row] for row in pending]
    table = tables.records(
        sheet=name,
        headers=headers,
        sample=sample,
        header_row=header_index + 1,
        where=f"{builder.relative_file} sheet {name!r} row ",
        column_name=lambda index: f"column {excel_column(first_column + index)}",
    )
    add = table.add
    for row_number, row in enumerate(_chain(pending, rows), start=header_index + 2):
        add(row_number, [cell_text(cell) for cell in row], row)
    return kind, table.report


def excel_column(index: int) -> str:
    """0 → ``A``, 27 → ``AB``."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
