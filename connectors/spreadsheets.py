"""Reading contact lists that people keep in spreadsheets: ``.csv`` (any common encoding and delimiter)
and Excel workbooks (every sheet that has a contact header, or one named sheet).

Cells are data, never code: a cell starting with ``=`` is kept as text, and a workbook formula yields
the value Excel cached for it (nothing is evaluated).
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import charset_normalizer
import python_calamine

from connectors.headers import (
    HEADER_SEARCH_ROWS,
    SynonymTable,
    UnreadableFileError,
    find_header_row,
    map_headers,
)
from connectors.normalize import cell_text
from connectors.records import FileRead, RecordBuilder, SheetReport, TableRecords, relative_posix_path

__all__ = [
    "CSV_SUFFIXES",
    "EXCEL_SUFFIXES",
    "FileRead",
    "SheetReport",
    "UnreadableFileError",
    "detect_encoding",
    "read_csv_table",
    "read_spreadsheet",
    "sniff_delimiter",
]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls"})
# Data rows after the header that decide ambiguous headers such as "번호" (id or phone?).
SAMPLE_ROWS = 200
_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20


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
    synonyms = SynonymTable.build(extra_synonyms)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        report, encoding = read_csv_table(path, builder, synonyms)
        return FileRead(builder.table(), [report], encoding)
    if suffix in EXCEL_SUFFIXES:
        reports = _read_workbook(path, builder, synonyms, sheet)
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


def read_csv_table(path: Path, builder: RecordBuilder, synonyms: SynonymTable) -> tuple[SheetReport, str]:
    """Read a delimited text file into ``builder``; return its report and the detected encoding."""
    relative = builder.relative_file
    codec, encoding = detect_encoding(path, relative)
    try:
        with path.open(encoding=codec, newline="", errors="strict") as handle:
            delimiter = sniff_delimiter(handle.read(64 * 1024))
            handle.seek(0)
            report = _read_csv_rows(
                _numbered_rows(csv.reader(handle, delimiter=delimiter)), builder, synonyms
            )
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


def _read_csv_rows(
    rows: Iterator[tuple[int, list[str] | csv.Error]], builder: RecordBuilder, synonyms: SynonymTable
) -> SheetReport:
    relative = builder.relative_file
    head: list[tuple[int, list[str] | csv.Error]] = []
    for numbered in rows:
        head.append(numbered)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    texts_of = [cells if isinstance(cells, list) else [] for _, cells in head]
    header_index = find_header_row(texts_of, synonyms)
    if header_index is None:
        raise UnreadableFileError(
            f"{relative}: no recognisable header row in the first {HEADER_SEARCH_ROWS} rows "
            "(need columns such as 이름/name, 이메일/email or 연락처/phone)"
        )
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
    table = TableRecords(
        builder,
        sheet=None,
        headers=headers,
        mapping=map_headers(headers, synonyms, sample_rows=sample),
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


def _read_workbook(
    path: Path, builder: RecordBuilder, synonyms: SynonymTable, only_sheet: str | None
) -> list[SheetReport]:
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
    for name in [only_sheet] if only_sheet is not None else names:
        # A sheet is all or nothing: one that fails part-way must not land the rows read before the error
        # while its report says skipped, so its records are discarded and the sheet is reported skipped.
        mark = builder.checkpoint()
        try:
            sheet = workbook.get_sheet_by_name(name)
            reports.append(_read_sheet(sheet, name, builder, synonyms))
        except UnreadableFileError:
            raise
        except Exception as error:  # one damaged sheet must not hide the others
            builder.rollback(mark)
            reports.append(SheetReport(name, None, skipped_reason=f"cannot read the sheet ({error})"))
    if not any(report.skipped_reason is None for report in reports):
        reasons = "; ".join(f"{report.sheet!r}: {report.skipped_reason}" for report in reports)
        raise UnreadableFileError(f"{relative}: no sheet with a recognisable contact header ({reasons})")
    return reports


def _read_sheet(
    sheet: python_calamine.CalamineSheet, name: str, builder: RecordBuilder, synonyms: SynonymTable
) -> SheetReport:
    first_column = sheet.start[1] if sheet.start else 0
    rows = iter(sheet.iter_rows())
    head: list[list[object]] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if not any(cell != "" for row in head for cell in row):
        return SheetReport(name, None, skipped_reason="the sheet is empty")
    head_texts = [[cell_text(cell) for cell in row] for row in head]
    header_index = find_header_row(head_texts, synonyms)
    if header_index is None:
        return SheetReport(
            name, None, skipped_reason=f"no recognisable header row in the first {HEADER_SEARCH_ROWS} rows"
        )
    headers = head_texts[header_index]
    pending = head[header_index + 1 :]
    for row in rows:
        pending.append(row)
        if len(pending) >= SAMPLE_ROWS:
            break
    sample = [[cell_text(cell) for cell in row] for row in pending]
    table = TableRecords(
        builder,
        sheet=name,
        headers=headers,
        mapping=map_headers(headers, synonyms, sample_rows=sample),
        header_row=header_index + 1,
        where=f"{builder.relative_file} sheet {name!r} row ",
        column_name=lambda index: f"column {excel_column(first_column + index)}",
    )
    add = table.add
    for row_number, row in enumerate(_chain(pending, rows), start=header_index + 2):
        add(row_number, [cell_text(cell) for cell in row], row)
    return table.report


def excel_column(index: int) -> str:
    """0 → ``A``, 27 → ``AB``."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
