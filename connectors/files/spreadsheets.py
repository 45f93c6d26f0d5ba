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
import re
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import charset_normalizer
import openpyxl
import python_calamine

from connectors.core.normalize import cell_text, parse_currency
from connectors.core.records import (
    FileRead,
    RecordBuilder,
    RecordSink,
    SheetReport,
    TableRecords,
    relative_posix_path,
)
from connectors.files.headers import (
    HEADER_SEARCH_ROWS,
    SynonymTable,
    UnreadableFileError,
    combine_header_rows,
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
    "sniff_unreadable",
]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls"})
# Data rows after the header that decide ambiguous headers such as "번호" (id or phone?).
SAMPLE_ROWS = 200
_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
CONTACTS, ORDERS = "contacts", "orders"
ORDER_SHEET_SKIPPED = "an order sheet (landed in spreadsheets/orders)"
# Python's csv module refuses a field longer than 131,072 characters by default (csv.field_size_limit()),
# which made a row with one long note cell unparseable and lost its other cells. A cell is bounded by the
# file instead; normalised fields are cut at MAX_FIELD_CHARS with an issue (connectors.core.records).
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)?<(?:!doctype\s+html|html|head|body|table|meta|style|\?xml[^>]*>\s*<html)",
    re.I | re.S,
)
_SPREADSHEET_ML = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*>\s*(?:<\?mso-application[^>]*>\s*)?<(?:\w+:)?Workbook\b"
)
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
WORKBOOK_DAMAGED = "the workbook is damaged ({detail})"
# Worksheets up to this size (uncompressed XML, about 100,000 rows of 10 columns) are read whole by calamine,
# fast; larger ones, and any workbook with formulas, are streamed row by row by openpyxl in flat memory. A
# million-row sheet read whole took 11.9 GB (issue #21).
CALAMINE_MAX_SHEET_BYTES = 32 << 20
FORMULA_WITHOUT_VALUE = (
    "a formula with no saved value (the program that wrote the file did not calculate it): its formula text "
    "is kept; open the file in Excel and save it to land the value"
)


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

    def header(
        self, kind: str, head: Sequence[Sequence[str | None]], index: int
    ) -> tuple[list[str | None], int, int]:
        """``(header cells, first header row index, index of the first data row)``: a header spread over
        two rows (a merged "연락처" above 이메일 and 전화) is read as one (``combine_header_rows``)."""
        synonyms = self.order_synonyms if kind == ORDERS and self.order_synonyms else self.contact_synonyms
        return combine_header_rows(head, index, synonyms)

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
    sink: RecordSink | None = None,
) -> FileRead:
    """Read one contact spreadsheet into records of ``READER_SCHEMA`` (``_source`` = "spreadsheets").

    ``sheet`` limits a workbook to that sheet (ignored for CSV). A record is identified by the sheet's
    own id column when it has one (``"<file>:<sheet>:id=<value>"``), else by its row
    (``"<file>:<sheet>:row=<n>"``). ``record_at`` comes from the row's own date cell; a row without one
    (no date column, an empty or unreadable cell) is undated, never dated by the file's save time.
    A sheet that fails part-way lands none of its rows and is reported skipped with the reason.
    Raises ``UnreadableFileError`` when the file as a whole cannot be read; a bad row becomes a
    rejected record instead. With a ``sink`` the records stream there instead of into ``FileRead.table``.
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
        sink=sink,
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
    sink: RecordSink | None = None,
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
    builder.sink = sink
    return _read_file(path, _Tables(ORDERS, builder, extra_synonyms, currency), sheet)


def _read_file(path: Path, tables: _Tables, sheet: str | None) -> FileRead:
    builder = tables.builder
    relative = builder.relative_file
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | EXCEL_SUFFIXES:
        raise UnreadableFileError(
            f"{relative}: not a spreadsheet (expected .csv or .xlsx, got {path.suffix!r})"
        )
    head = sniff_unreadable(path, relative)
    # By content, not by name: a workbook saved as .xls is read as one, and so is a text table saved as .xls
    # (web admin exports often are); an HTML page never gets this far.
    if suffix in EXCEL_SUFFIXES and head.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        reports = _read_workbook(path, tables, sheet, is_zip=head.startswith(_ZIP_MAGIC))
        return FileRead(builder.table(), reports, None)
    if suffix in EXCEL_SUFFIXES and (_is_text(path) is None or suffix != ".xls"):
        raise UnreadableFileError(
            f"{relative}: not a spreadsheet: the content is not an Excel workbook (neither .xlsx nor an old "
            f".xls) — export it again as .xlsx or .csv"
        )
    report, encoding = read_csv_table(path, builder, tables)
    return FileRead(builder.table(), [report] if report is not None else [], encoding)


def sniff_unreadable(path: Path, relative: str) -> bytes:
    """The first bytes of the file, after refusing the files nobody can read as a table, in plain words:
    an empty file, and an HTML page saved under a spreadsheet's name."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head.lstrip(codecs.BOM_UTF8 + b" \t\r\n"):
        raise UnreadableFileError(f"{relative}: the file is empty")
    if _HTML_START.match(head):
        raise UnreadableFileError(
            f"{relative}: not a spreadsheet: the file is an HTML page saved with an {path.suffix.lower()} "
            "name — export it again as .xlsx or .csv"
        )
    if _SPREADSHEET_ML.match(head):
        raise UnreadableFileError(
            f"{relative}: not a spreadsheet this inbox reads: the file is an Excel 2003 XML spreadsheet"
            f" saved with an {path.suffix.lower()} name — open it in Excel and save it as .xlsx"
        )
    return head


def _is_text(path: Path) -> str | None:
    """The codec a text file decodes with, or None for binary content."""
    try:
        return detect_encoding(path)[0]
    except UnreadableFileError:
        return None


def detect_encoding(path: Path, relative: str | None = None) -> tuple[str, str]:
    """``(codec to open the file with, encoding to report)``.

    UTF-8 (with or without BOM) is tried strictly first, then CP949 (a superset of EUC-KR and what
    Korean Excel writes), then whatever charset-normalizer finds.
    """
    with path.open("rb") as handle:
        start = handle.read(4096)
    has_bom = start.startswith(codecs.BOM_UTF8)
    if _decodes(path, "utf-8"):
        return "utf-8-sig", "utf-8-sig" if has_bom else "utf-8"
    if b"\x00" in start and not start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Not UTF-8 and NUL bytes: a workbook, an image or an archive, which some legacy codec would "decode".
        raise UnreadableFileError(
            f"{relative or path.name}: not a text table: the file holds binary data (is it a workbook or an "
            "image saved with a .csv name?)"
        )
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
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
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
    header_cells, first_index, data_index = tables.header(kind, texts_of, header_index)
    header_line = head[first_index][0]
    headers: list[str | None] = [cell or None for cell in header_cells]
    while headers and headers[-1] is None:
        headers.pop()
    width = len(headers)

    pending = head[data_index:]
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


def _read_workbook(path: Path, tables: _Tables, only_sheet: str | None, *, is_zip: bool) -> list[SheetReport]:
    """Every sheet of a workbook. An .xlsx/.xlsm (``is_zip``) with large sheets or with formulas is read
    row by row (openpyxl's read-only mode), so a million-row workbook never sits in memory; a small one, and
    an old binary .xls (at most 65,536 rows a sheet), is read whole by calamine."""
    builder = tables.builder
    relative = builder.relative_file
    if is_zip:
        has_formulas, sheet_bytes = _probe_xlsx(path, relative)
        # calamine reads a sheet whole, fast; openpyxl streams it, slowly, in flat memory and sees formulas.
        if has_formulas or sheet_bytes > CALAMINE_MAX_SHEET_BYTES:
            workbook = _StreamedWorkbook(path, relative, has_formulas=has_formulas)
        else:
            workbook = _CalamineWorkbook(path, relative)
    else:
        workbook = _CalamineWorkbook(path, relative)
    try:
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
                kind, report = _read_sheet(workbook.rows(name), name, tables)
            except UnreadableFileError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                raise UnreadableFileError(
                    f"{relative}: " + WORKBOOK_DAMAGED.format(detail="corrupt data inside the zip")
                ) from error
            except Exception as error:  # one damaged sheet must not hide the others
                builder.rollback(mark)
                kind, report = (
                    None,
                    SheetReport(name, None, skipped_reason=f"cannot read the sheet ({error})"),
                )
            tables_found += kind is not None
            # The order reader speaks of order sheets only: the contact reader reports every other sheet.
            if report is not None and (tables.kind == CONTACTS or kind == ORDERS):
                reports.append(report)
    finally:
        workbook.close()
    if tables.kind == ORDERS:
        return reports
    if not tables_found:
        reasons = "; ".join(f"{report.sheet!r}: {report.skipped_reason}" for report in reports)
        raise UnreadableFileError(f"{relative}: no sheet with a recognisable contact header ({reasons})")
    return reports


# One sheet row: the cells as read (native values) and, per column, a problem the reader saw in the cell.
SheetRow = tuple[Sequence[object], dict[int, str] | None]


class _CalamineWorkbook:
    """An old binary .xls (at most 65,536 rows a sheet), or a small .xlsx, read whole by calamine."""

    def __init__(self, path: Path, relative: str) -> None:
        try:
            self.workbook = python_calamine.load_workbook(str(path))
        except Exception as error:  # calamine raises several unrelated types for damaged files
            raise UnreadableFileError(
                f"{relative}: not a readable Excel workbook ({str(error)[:200]}); open it in Excel and save "
                "it as .xlsx"
            ) from error
        self.sheet_names = self.workbook.sheet_names

    def rows(self, name: str) -> Iterator[SheetRow]:
        sheet = self.workbook.get_sheet_by_name(name)
        first_column = sheet.start[1] if sheet.start else 0
        if first_column:
            yield from (([None] * first_column + list(row), None) for row in sheet.iter_rows())
        else:
            yield from ((row, None) for row in sheet.iter_rows())

    def close(self) -> None:
        self.workbook.close()


class _StreamedWorkbook:
    """An .xlsx/.xlsm read row by row (openpyxl read-only): memory stays flat whatever the sheet's size.

    Values are the ones Excel saved with the file (nothing is evaluated). A formula whose value was never
    saved (the file was written by a program that does not calculate) keeps its formula text, with a
    problem for the cell, instead of landing empty. The formulas are read by a second pass over the
    same sheet, only when the workbook has any.
    """

    def __init__(self, path: Path, relative: str, *, has_formulas: bool) -> None:
        self.path = path
        self.relative = relative
        self._handles = []
        self.values = self._open(data_only=True)
        self.formulas = self._open(data_only=False) if has_formulas else None
        self.sheet_names = self.values.sheetnames

    def _open(self, *, data_only: bool) -> openpyxl.Workbook:
        handle = self.path.open("rb")  # a file object: openpyxl would refuse a path named .xls
        self._handles.append(handle)
        try:
            return openpyxl.load_workbook(handle, read_only=True, data_only=data_only, keep_links=False)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            self.close()
            raise UnreadableFileError(
                f"{self.relative}: " + WORKBOOK_DAMAGED.format(detail="corrupt data inside the zip")
            ) from error
        except KeyError as error:
            self.close()
            raise UnreadableFileError(
                f"{self.relative}: " + WORKBOOK_DAMAGED.format(detail=f"a part is missing: {error}")
            ) from error
        except Exception as error:
            self.close()
            raise UnreadableFileError(
                f"{self.relative}: not a readable Excel workbook ({str(error)[:200]})"
            ) from error

    def rows(self, name: str) -> Iterator[SheetRow]:
        sheet = self.values[name]
        if not hasattr(sheet, "reset_dimensions"):  # a chart sheet holds no cells
            return
        sheet.reset_dimensions()  # a wrong <dimension> in the file must not cut rows short
        values = sheet.iter_rows(values_only=True)
        if self.formulas is None:
            for row in values:
                yield [_cell_value(value) for value in row], None
            return
        formula_sheet = self.formulas[name]
        formula_sheet.reset_dimensions()
        for row, written in zip(values, formula_sheet.iter_rows(values_only=True), strict=False):
            cells = [_cell_value(value) for value in row]
            problems = None
            for index, formula in enumerate(written):
                if not (isinstance(formula, str) and formula.startswith("=")):
                    continue
                if index < len(row) and row[index] is not None:
                    continue
                cells.extend([None] * (index + 1 - len(cells)))
                cells[index] = formula
                problems = problems or {}
                problems[index] = FORMULA_WITHOUT_VALUE
            yield cells, problems

    def close(self) -> None:
        for workbook in (getattr(self, "values", None), getattr(self, "formulas", None)):
            if workbook is not None:
                workbook.close()
        for handle in self._handles:
            handle.close()


def _probe_xlsx(path: Path, relative: str) -> tuple[bool, int]:
    """``(whether a worksheet holds a formula, the worksheets' uncompressed size)``; a damaged zip is
    refused here in plain words (every worksheet is decompressed once, in chunks)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:  # no central directory: the file was cut short
        raise UnreadableFileError(
            f"{relative}: " + WORKBOOK_DAMAGED.format(detail="unexpected end of zip")
        ) from error
    try:
        with archive:
            sizes = sum(i.file_size for i in archive.infolist() if i.filename.startswith("xl/worksheets/"))
            return _has_formulas(archive), sizes
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise UnreadableFileError(
            f"{relative}: " + WORKBOOK_DAMAGED.format(detail="corrupt data inside the zip")
        ) from error


def _has_formulas(archive: zipfile.ZipFile) -> bool:
    """Whether any worksheet holds a formula (``<f>``), read in chunks: a large sheet is never in memory.
    Every worksheet is read to its end, so that a corrupt one is found here."""
    found = False
    for info in archive.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        with archive.open(info) as member:
            tail = b""
            while chunk := member.read(1 << 20):
                found = found or bool(_FORMULA_TAG.search(tail + chunk))
                tail = chunk[-8:]
    return found


def _cell_value(value: object) -> object:
    """A workbook cell as calamine would give it: a date with no time of day is a date."""
    if type(value) is datetime and value.time() == dtime() and value.tzinfo is None:
        return value.date()
    return value


def _read_sheet(
    rows: Iterator[SheetRow], name: str, tables: _Tables
) -> tuple[str | None, SheetReport | None]:
    """``(kind of the sheet or None, report)``; the report is None for a sheet of the kind the reader
    does not keep and does not mention (a contact list, for the order reader)."""
    builder = tables.builder
    head: list[SheetRow] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if not any(cell not in ("", None) for row, _ in head for cell in row):
        return None, SheetReport(name, None, skipped_reason="the sheet is empty")
    head_texts = [[cell_text(cell) for cell in row] for row, _ in head]
    located = tables.locate(head_texts)
    if located is None:
        return None, SheetReport(
            name, None, skipped_reason=f"no recognisable header row in the first {HEADER_SEARCH_ROWS} rows"
        )
    kind, header_index = located
    if kind != tables.kind:
        return kind, SheetReport(name, None, skipped_reason=ORDER_SHEET_SKIPPED) if kind == ORDERS else None
    headers, first_index, data_index = tables.header(kind, head_texts, header_index)
    while headers and headers[-1] is None:
        headers.pop()
    pending = head[data_index:]
    for row in rows:
        pending.append(row)
        if len(pending) >= SAMPLE_ROWS:
            break
    sample = [[cell_text(cell) for cell in row] for row, _ in pending]
    table = tables.records(
        sheet=name,
        headers=headers,
        sample=sample,
        header_row=first_index + 1,
        where=f"{builder.relative_file} sheet {name!r} row ",
        column_name=lambda index: f"column {excel_column(index)}",
    )
    add = table.add
    keys = table.keys
    for row_number, (row, problems) in enumerate(_chain(pending, rows), start=data_index + 1):
        if problems:
            issues = [
                f"{keys[index] if index < len(keys) else 'column ' + excel_column(index)}: {problem}"
                for index, problem in sorted(problems.items())
            ]
            add(row_number, [cell_text(cell) for cell in row], row, cell_issues=issues)
        else:
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
