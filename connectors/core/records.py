"""What the file readers return, and the row-to-record step they share.

A reader finds a table in a file (a CSV, a sheet, a list of webhook payloads), maps its columns with
``connectors.files.headers`` and feeds its rows to ``TableRecords``, which keeps the raw cells, normalises the
mapped ones and decides whether the row is usable. Records collect into Arrow record batches of
``READER_SCHEMA``, built column-wise every ``BATCH_ROWS`` rows so a million-row file never sits in
memory as Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from json.encoder import encode_basestring
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from connectors.core.landing import READER_SCHEMA
from connectors.core.normalize import (
    join_name_parts,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
    parse_birthday,
    parse_consent,
    parse_timestamp,
    time_zone,
)

__all__ = [
    "MAX_FIELD_CHARS",
    "FileRead",
    "RecordBuilder",
    "RecordSink",
    "SheetReport",
    "TableRecords",
    "relative_posix_path",
]

BATCH_ROWS = 65_536
# Records in one batch streamed to a sink (a landing batch, one parquet row group): a wide row of Korean text
# is a few kB as Python objects, so 65,536 of them held ~600 MB before they reached the file.
STREAM_BATCH_ROWS = 8_192
# The most characters a normalised field keeps: what one Excel cell can hold. A longer cell is cut there,
# with a field issue; raw_row keeps it whole.
MAX_FIELD_CHARS = 32_767
# The order of the values in a record tuple; batches are reordered to READER_SCHEMA by name.
RECORD_TUPLE = (
    "_source",
    "_source_file",
    "_source_sheet",
    "_source_row",
    "source_record_id",
    "record_at",
    "raw_name",
    "raw_email",
    "raw_phone",
    "raw_company",
    "raw_consent_email",
    "raw_birthday",
    "raw_row",
    "attributes",
    "full_name",
    "email",
    "phone",
    "phone_type",
    "company",
    "consent_email",
    "birthday",
    "field_issues",
    "rejection_reason",
)
_JSON = json.JSONEncoder(ensure_ascii=False)


class RecordSink(Protocol):
    """Where a ``RecordBuilder`` streams its record batches (``connectors.core.landing.BatchWriter``)."""

    row_groups: int

    def write(self, batch: pa.RecordBatch) -> None: ...

    def truncate(self, row_groups: int) -> None: ...


@dataclass
class SheetReport:
    """How one table of a file was read: where its header is, how it was mapped, what came out."""

    sheet: str | None
    header_row: int | None
    mapping: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0
    skipped_reason: str | None = None


@dataclass
class FileRead:
    """One file's records (``READER_SCHEMA``) and a report per table (sheet) in it."""

    table: pa.Table
    sheets: list[SheetReport]
    encoding: str | None = None

    @property
    def rows_read(self) -> int:
        return sum(report.rows_read for report in self.sheets)

    @property
    def rows_rejected(self) -> int:
        return sum(report.rows_rejected for report in self.sheets)


def relative_posix_path(path: Path, inbox_dir: Path) -> str:
    """``path`` relative to the inbox, with ``/`` separators: the file's name in every record."""
    for candidate, base in ((path, inbox_dir), (path.resolve(), inbox_dir.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    raise ValueError(f"{path} is not inside the inbox folder {inbox_dir}")


class RecordBuilder:
    """Collects the records of one file and turns them into an Arrow table."""

    def __init__(
        self,
        *,
        source: str,
        relative_file: str,
        region: str,
        local_tz: str,
        id_key: Callable[[str | None, str], str],
        row_key: Callable[[str | None, int], str],
        schema: pa.Schema = READER_SCHEMA,
        record_tuple: tuple[str, ...] = RECORD_TUPLE,
        sink: RecordSink | None = None,
    ) -> None:
        """``record_tuple`` names the values of an appended record, in order; ``schema`` is what they
        become (``READER_SCHEMA`` for contacts, ``ORDER_READER_SCHEMA`` for order rows). With a ``sink``
        (``LandingZone.open_batch``) each record batch goes there as soon as it is full, so a large file is
        never held in memory."""
        self.schema = schema
        self.record_tuple = record_tuple
        self.source = source
        self.relative_file = relative_file
        self.region = region
        self.local_tz = local_tz
        self.id_key = id_key
        self.row_key = row_key
        time_zone(local_tz)  # an unknown zone fails before the first row, not on the first dated one
        self.sink = sink
        self.rows_written = 0
        self._rows: list[tuple] = []
        self._batches: list[pa.RecordBatch] = []

    def append(self, record: tuple) -> None:
        self._rows.append(record)
        if len(self._rows) >= (BATCH_ROWS if self.sink is None else STREAM_BATCH_ROWS):
            self._flush()

    def checkpoint(self) -> int:
        """Mark the records so far; ``rollback`` to the mark discards everything added after it."""
        self._flush()
        return self.sink.row_groups if self.sink is not None else len(self._batches)

    def rollback(self, mark: int) -> None:
        if self.sink is not None:
            self.sink.truncate(mark)
        else:
            del self._batches[mark:]
        self._rows = []

    def _flush(self) -> None:
        if not self._rows:
            return
        columns = dict(zip(self.record_tuple, zip(*self._rows, strict=True), strict=True))
        arrays = [pa.array(columns[f.name], type=f.type) for f in self.schema]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if self.sink is not None:
            self.sink.write(batch)
        else:
            self._batches.append(batch)
        self._rows = []

    def table(self) -> pa.Table:
        """The records collected; with a sink they went there, and this is empty."""
        self._flush()
        return pa.Table.from_batches(self._batches, schema=self.schema)


class TableRecords:
    """Turns the data rows of one table (a CSV, a sheet, a set of payloads) into records.

    ``headers`` are the header cells as read (``None`` for a blank header cell), ``mapping`` the
    ``{column index: field}`` from ``map_headers``. ``where`` prefixes a row number in messages, e.g.
    ``"leads.csv row "``.
    """

    def __init__(
        self,
        builder: RecordBuilder,
        *,
        sheet: str | None,
        headers: Sequence[str | None],
        mapping: dict[int, str],
        header_row: int | None,
        where: str,
        column_name: Callable[[int], str],
    ) -> None:
        self.builder = builder
        self.sheet = sheet
        self.where = where
        self.column_name = column_name
        self.keys = _unique_keys(headers, column_name)
        self.json_keys = [f"{encode_basestring(key)}: " for key in self.keys]
        named = [bool(header and header.strip()) for header in headers]
        # Columns without a header appear in raw_row only when the row has a value there.
        self.unnamed = frozenset(i for i, is_named in enumerate(named) if not is_named)
        self.extras = [i for i in range(len(headers)) if i not in mapping]
        self.width = len(self.keys)
        field_index = {name: index for index, name in mapping.items()}
        # Missing fields point at -1: every row gets a trailing None, so a lookup needs no branch.
        (
            self.i_id,
            self.i_at,
            self.i_name,
            self.i_email,
            self.i_phone,
            self.i_company,
            self.i_consent,
            self.i_birthday,
            self.i_given,
            self.i_family,
        ) = (
            field_index.get(name, -1)
            for name in (
                "record_id",
                "record_at",
                "name",
                "email",
                "phone",
                "company",
                "consent_email",
                "birthday",
                "given_name",
                "family_name",
            )
        )
        # 성 next to 이름: the 이름 column holds the given name only.
        if self.i_family >= 0 and self.i_given < 0:
            self.i_given, self.i_name = self.i_name, -1
        self.has_split_name = self.i_given >= 0 or self.i_family >= 0
        self.seen_ids: dict[str, int] = {}
        self.report = SheetReport(
            sheet=sheet,
            header_row=header_row,
            mapping={self.keys[index]: name for index, name in sorted(mapping.items())},
            extra_columns=[self.keys[i] for i in self.extras if i not in self.unnamed],
        )

    def _widen(self, width: int) -> None:
        """Cells right of the header (a row longer than its header row) are kept under column names,
        in raw_row when they hold a value and in the attributes."""
        for index in range(self.width, width):
            key = self.column_name(index)
            while key in self.keys:
                key = f"{key} ({index + 1})"
            self.keys.append(key)
            self.json_keys.append(f"{encode_basestring(key)}: ")
            self.extras.append(index)
        self.unnamed = self.unnamed | frozenset(range(self.width, width))
        self.width = width

    def add(
        self,
        row_number: int,
        texts: list[str | None],
        values: Sequence[object] | None = None,
        raw_row: str | None = None,
        cell_issues: Sequence[str] = (),
    ) -> None:
        """Add one data row: ``texts`` are the cells as text (None when empty), ``values`` the native
        cells where they carry more than text (Excel dates), ``raw_row`` replaces the JSON built from
        the cells (a webhook payload keeps its own shape), ``cell_issues`` are problems the reader saw in
        the cells (a formula without a saved value). Blank rows are skipped. A row shorter than the
        header is padded; a longer one keeps its extra cells."""
        if not any(texts) or not "".join(filter(None, texts)).strip():
            return
        builder = self.builder
        if len(texts) != self.width:
            if len(texts) > self.width:
                self._widen(len(texts))
            else:
                texts = texts + [None] * (self.width - len(texts))
                if values is not None:
                    values = list(values) + [None] * (self.width - len(values))
        if raw_row is None:
            raw_row = _json_object(self.json_keys, texts, skip_empty=self.unnamed)
        attributes = _json_object(self.json_keys, texts, only=self.extras) if self.extras else None

        issues: list[str] = list(cell_issues)
        texts.append(None)
        raw_name = texts[self.i_name]
        if raw_name is None and self.has_split_name:
            raw_name = join_name_parts(texts[self.i_given], texts[self.i_family])
        raw_name = self._fit(raw_name, "name", issues)
        raw_email = self._fit(texts[self.i_email], "email", issues)
        raw_phone = self._fit(texts[self.i_phone], "phone", issues)
        raw_company = self._fit(texts[self.i_company], "company", issues)
        raw_consent = self._fit(texts[self.i_consent], "consent_email", issues)
        raw_birthday = self._fit(texts[self.i_birthday], "birthday", issues)

        if raw_email is None:
            email = email_problem = None
        else:
            email, email_problem = normalize_email(raw_email)
            if email_problem:
                issues.append(f"email: {email_problem}")
        if raw_phone is None:
            phone = phone_type = phone_problem = None
        else:
            phone, phone_type, phone_problem = normalize_phone(raw_phone, builder.region)
            if phone_problem:
                issues.append(f"phone: {phone_problem}")
        if raw_consent is None:
            consent = None
        else:
            consent, consent_problem = parse_consent(raw_consent)
            if consent_problem:
                issues.append(f"consent_email: {consent_problem}")
        if raw_birthday is None:
            birthday = None
        else:
            # An Excel date cell is read as the date it holds, not as its text.
            cell = values[self.i_birthday] if values is not None else None
            birthday, birthday_problem = parse_birthday(cell if isinstance(cell, date) else raw_birthday)
            if birthday_problem:
                issues.append(f"birthday: {birthday_problem}")

        # A row is dated by its own date cell or not at all: a file's save time says nothing about when
        # its rows were captured, and record_at orders consent answers downstream.
        record_at = None
        if self.i_at >= 0:
            when = values[self.i_at] if values is not None else texts[self.i_at]
            if when is not None and when != "":
                parsed, when_problem = parse_timestamp(when, builder.local_tz)
                if when_problem:
                    issues.append(f"record_at: {when_problem}")
                else:
                    record_at = parsed

        raw_id = self._fit(texts[self.i_id], "record_id", issues)
        record_id = self._record_id(row_number, raw_id.strip(), issues) if raw_id is not None else None
        if record_id is None:
            record_id = builder.row_key(self.sheet, row_number)

        report = self.report
        report.rows_read += 1
        rejection = None
        if email is None and phone is None:
            report.rows_rejected += 1
            rejection = (
                f"{self.where}{row_number}: no valid email or phone "
                f"({self._absent('email', self.i_email, email_problem)}; "
                f"{self._absent('phone', self.i_phone, phone_problem)})"
            )
        builder.append(
            (
                builder.source,
                builder.relative_file,
                self.sheet,
                row_number,
                record_id,
                record_at,
                raw_name,
                raw_email,
                raw_phone,
                raw_company,
                raw_consent,
                raw_birthday,
                raw_row,
                attributes,
                normalize_name(raw_name) if raw_name is not None else None,
                email,
                phone,
                phone_type,
                normalize_company(raw_company) if raw_company is not None else None,
                consent,
                birthday,
                "; ".join(issues) if issues else None,
                rejection,
            )
        )

    @staticmethod
    def _fit(text: str | None, name: str, issues: list[str]) -> str | None:
        """A mapped cell as the normalised fields read it: cut at ``MAX_FIELD_CHARS``, with an issue."""
        if text is None or len(text) <= MAX_FIELD_CHARS:
            return text
        issues.append(
            f"{name}: the cell holds {len(text):,} characters, more than the {MAX_FIELD_CHARS:,} a field "
            "keeps; cut there (raw_row has it whole)"
        )
        return text[:MAX_FIELD_CHARS]

    def add_unparseable(self, row_number: int, reason: str, raw_row: dict[str, object]) -> None:
        """Record a row that could not be split into cells, so it is visible and counted, never lost."""
        builder = self.builder
        self.report.rows_read += 1
        self.report.rows_rejected += 1
        builder.append(
            (
                builder.source,
                builder.relative_file,
                self.sheet,
                row_number,
                builder.row_key(self.sheet, row_number),
                *(None,) * 7,
                _JSON.encode(raw_row),
                *(None,) * 9,
                f"{self.where}{row_number}: {reason}",
            )
        )

    def _record_id(self, row_number: int, value: str, issues: list[str]) -> str | None:
        """The id-based key, or None when the row must be identified by its number."""
        if not value:
            return None
        first = self.seen_ids.setdefault(value, row_number)
        if first != row_number:
            issues.append(
                f"record_id: {value!r} repeats the id of row {first}; this row is identified by its number"
            )
            return None
        return self.builder.id_key(self.sheet, value)

    @staticmethod
    def _absent(name: str, index: int, problem: str | None) -> str:
        if index < 0:
            return f"no {name} column"
        return f"{name}: {problem}" if problem else f"{name} empty"


def _json_object(
    json_keys: list[str],
    texts: list[str | None],
    *,
    skip_empty: frozenset[int] = frozenset(),
    only: list[int] | None = None,
) -> str | None:
    """A JSON object of column → text, written directly from pre-encoded keys: a row is flat strings,
    and this runs for every row twice, at half the cost of ``json.dumps``. With ``only``, empty cells
    are left out and an all-empty result is None."""
    if only is not None:
        width = len(texts)
        parts = [
            json_keys[i] + encode_basestring(texts[i]) for i in only if i < width and texts[i] is not None
        ]
        return "{" + ", ".join(parts) + "}" if parts else None
    if skip_empty:
        parts = [
            key + (encode_basestring(text) if text is not None else "null")
            for i, (key, text) in enumerate(zip(json_keys, texts, strict=False))
            if text is not None or i not in skip_empty
        ]
    else:
        parts = [
            key + (encode_basestring(text) if text is not None else "null")
            for key, text in zip(json_keys, texts, strict=False)
        ]
    return "{" + ", ".join(parts) + "}"


def _unique_keys(headers: Sequence[str | None], column_name: Callable[[int], str]) -> list[str]:
    keys: list[str] = []
    used: set[str] = set()
    for index, header in enumerate(headers):
        key = header if header and header.strip() else column_name(index)
        candidate, n = key, 1
        while candidate in used:
            n += 1
            candidate = f"{key} ({n})"
        used.add(candidate)
        keys.append(candidate)
    return keys
