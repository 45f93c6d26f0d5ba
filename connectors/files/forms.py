"""Reading form submissions: Google Forms response downloads (``.csv``, Korean or English locale) and
webhook captures (``.json`` holding one payload or an array of them, ``.jsonl`` with one per line).

A submission is identified by its own id when the export carries one, else by its position in the file
(``"<file>:row=<n>"``). An id is taken as global, ``"submission=<id>"`` (the same in every export of the
form, so re-exports deduplicate), only when it looks globally unique: at least 8 characters and not
purely digits (``lp_a4886cf4c2f0``, a UUID, a Typeform token). Any other id (``1``, ``17``, ``r-001``,
a ``번호``/``순번``/``No`` column numbering the rows of one export) is scoped to its file,
``"<file>:id=<id>"``, since two exports that each number their rows 1, 2, 3 are different people.
Nested payload objects are flattened to dotted keys (``data.email``) and matched by their last part;
a one-element list (Apps Script ``namedValues``) counts as its element. Each payload is mapped by its
own shape (set of keys), so one capture may mix flat and nested payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from connectors.core.normalize import cell_text
from connectors.core.records import (
    FileRead,
    RecordBuilder,
    RecordSink,
    SheetReport,
    TableRecords,
    relative_posix_path,
)
from connectors.files.headers import CONTACT_FIELDS, SynonymTable, UnreadableFileError, map_headers
from connectors.files.spreadsheets import CSV_SUFFIXES, detect_encoding, read_csv_table, sniff_unreadable

__all__ = [
    "JSONL_SUFFIXES",
    "JSON_SUFFIXES",
    "FileRead",
    "SheetReport",
    "UnreadableFileError",
    "read_form_export",
    "submission_key",
]

JSON_SUFFIXES = frozenset({".json"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_SAMPLE_RECORDS = 200
_JSON = json.JSONEncoder(ensure_ascii=False)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A payload nested deeper than this is no form submission; reading it (json.loads, flattening, re-encoding)
# would recurse once a level and end in RecursionError, so it is quarantined with its line instead.
MAX_JSON_DEPTH = 64
TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep: not a form submission"


def read_form_export(
    path: Path,
    *,
    inbox_dir: Path,
    default_region: str = "KR",
    extra_synonyms: Mapping[str, Sequence[str]] | None = None,
    local_tz: str = "Asia/Seoul",
    sink: RecordSink | None = None,
) -> FileRead:
    """Read one form export into records of ``READER_SCHEMA`` (``_source`` = "forms").

    Raises ``UnreadableFileError`` when the file as a whole cannot be read (undecodable, not JSON, not
    an object or an array of objects, no recognisable contact fields); a bad submission or line becomes
    a rejected record instead.
    """
    path = Path(path)
    relative = relative_posix_path(path, inbox_dir)
    builder = RecordBuilder(
        source="forms",
        relative_file=relative,
        region=default_region,
        local_tz=local_tz,
        id_key=lambda _sheet, value: submission_key(relative, value),
        row_key=lambda _sheet, row: f"{relative}:row={row}",
        sink=sink,
    )
    synonyms = SynonymTable.build(extra_synonyms)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES:
        sniff_unreadable(path, relative)
    if suffix in CSV_SUFFIXES:
        report, encoding = read_csv_table(path, builder, synonyms)
        return FileRead(builder.table(), [report], encoding)
    if suffix in JSON_SUFFIXES:
        codec, encoding = detect_encoding(path, relative)
        payloads = _json_payloads(path.read_text(encoding=codec), relative)
        reports = _read_payloads(payloads, builder, synonyms, where=f"{relative} element ")
        return FileRead(builder.table(), reports, encoding)
    if suffix in JSONL_SUFFIXES:
        codec, encoding = detect_encoding(path, relative)
        with path.open(encoding=codec) as handle:
            payloads = list(_jsonl_payloads(handle))
        reports = _read_payloads(payloads, builder, synonyms, where=f"{relative} line ")
        return FileRead(builder.table(), reports, encoding)
    raise UnreadableFileError(
        f"{relative}: not a form export (expected .csv, .json or .jsonl, got {path.suffix!r})"
    )


def submission_key(relative_file: str, value: str) -> str:
    """``source_record_id`` of a submission whose id is ``value``: global for an id that looks globally
    unique (8+ characters, not purely digits), else scoped to the file (see the module docstring)."""
    if len(value) >= 8 and not value.isdigit():
        return f"submission={value}"
    return f"{relative_file}:id={value}"


def _json_payloads(text: str, relative: str) -> list[tuple[int, object, str | None]]:
    """``(element number, payload, problem)`` for a ``.json`` file."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(
            f"{relative}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    except RecursionError as error:
        raise UnreadableFileError(f"{relative}: the JSON is {TOO_DEEP}") from error
    if _depth(document) > MAX_JSON_DEPTH + 1:
        if not isinstance(document, list):
            raise UnreadableFileError(f"{relative}: the JSON is {TOO_DEEP}")
        document = [item if _depth(item) <= MAX_JSON_DEPTH else _TooDeep() for item in document]
    if isinstance(document, dict):
        wrapped = _wrapped_list(document)
        document = wrapped if wrapped is not None else [document]
    if not isinstance(document, list) or (document and not any(isinstance(item, dict) for item in document)):
        raise UnreadableFileError(f"{relative}: the JSON is not an object or an array of objects")
    return [
        (number, {"value": "(not kept: " + TOO_DEEP + ")"}, TOO_DEEP)
        if isinstance(item, _TooDeep)
        else (number, item, None if isinstance(item, dict) else f"not a JSON object ({type(item).__name__})")
        for number, item in enumerate(document, start=1)
    ]


class _TooDeep:
    """An element of a JSON array nested too deeply to read."""


def _depth(value: object) -> int:
    """How deeply ``value`` nests (a scalar is 0), without recursion: a hostile payload is 10,000 deep."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH + 1:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _wrapped_list(document: dict) -> list | None:
    """The payload list of an envelope such as ``{"responses": [{...}, ...]}``, if that is what it is."""
    if any(
        isinstance(value, str | int | float) and not isinstance(value, bool) for value in document.values()
    ):
        return None
    lists = [value for value in document.values() if isinstance(value, list) and value]
    if len(lists) == 1 and all(isinstance(item, dict) for item in lists[0]):
        return lists[0]
    return None


def _jsonl_payloads(lines: Iterable[str]) -> Iterator[tuple[int, object, str | None]]:
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            yield (
                number,
                {"line": line.rstrip("\r\n")},
                f"not valid JSON ({error.msg} at column {error.colno})",
            )
            continue
        except RecursionError:
            yield number, {"line": line.rstrip("\r\n")}, TOO_DEEP
            continue
        if _depth(payload) > MAX_JSON_DEPTH:
            yield number, {"line": line.rstrip("\r\n")}, TOO_DEEP
            continue
        if not isinstance(payload, dict):
            yield number, {"line": line.rstrip("\r\n")}, f"not a JSON object ({type(payload).__name__})"
            continue
        yield number, payload, None


def _read_payloads(
    payloads: list[tuple[int, object, str | None]],
    builder: RecordBuilder,
    synonyms: SynonymTable,
    *,
    where: str,
) -> list[SheetReport]:
    """Records for the payloads of one file, mapped shape by shape; a report per table of shapes.

    A capture can mix payload shapes (a flat ``{"email": ...}`` and a nested ``{"data": {"이메일": ...}}``),
    so each distinct tuple of flattened keys is mapped on its own, once. Shapes whose mappings agree are
    read as one table (see ``_ShapeGroup``); genuinely different shapes become separate tables, each with
    its own ``SheetReport``.
    """
    flattened: list[tuple[dict[str, object], tuple[str, ...]] | None] = []
    samples: dict[tuple[str, ...], list[list[str | None]]] = {}  # shape -> its first payloads, as text
    for _, payload, problem in payloads:
        if problem is not None or not isinstance(payload, dict):
            flattened.append(None)
            continue
        flat = _flatten(payload)
        shape = tuple(flat)
        flattened.append((flat, shape))
        shape_samples = samples.setdefault(shape, [])
        if flat and len(shape_samples) < _SAMPLE_RECORDS:
            shape_samples.append([_text(value) for value in flat.values()])

    groups: list[_ShapeGroup] = []
    group_of: dict[tuple[str, ...], _ShapeGroup] = {}
    for shape, shape_samples in samples.items():
        leaves = [key.rsplit(".", 1)[-1] for key in shape]
        mapping = {
            shape[index]: name
            for index, name in map_headers(leaves, synonyms, sample_rows=shape_samples).items()
        }
        group = next((group for group in groups if group.accepts(shape, mapping)), None)
        if group is None:
            group = _ShapeGroup()
            groups.append(group)
        group.add(shape, mapping)
        group_of[shape] = group

    all_keys = list(dict.fromkeys(key for shape in samples for key in shape))
    if all_keys and not any(group.has_contact for group in groups):
        raise UnreadableFileError(
            f"{builder.relative_file}: no recognisable contact fields among the keys "
            f"{', '.join(all_keys[:20])} (need an email or phone)"
        )
    if not groups:
        groups.append(_ShapeGroup())

    seen_ids: dict[str, int] = {}  # one file, one id space: a repeated id is caught across tables
    for group in groups:
        group.start(builder, where, seen_ids)
    # Lines that are not payloads are counted in the main table (the first with contact fields).
    main = next((group for group in groups if group.has_contact), groups[0])
    for (number, payload, problem), parsed in zip(payloads, flattened, strict=True):
        if parsed is None:
            raw = payload if isinstance(payload, dict) else {"value": payload}
            main.table.add_unparseable(number, problem or "not a JSON object", raw)
            continue
        flat, shape = parsed
        group = group_of[shape]
        values = [flat.get(key) for key in group.headers]
        group.table.add(number, [_text(value) for value in values], values, raw_row=_JSON.encode(payload))
    reports = [group.table.report for group in groups]
    # A table of nothing but empty payloads (skipped like blank rows) is noise, unless it is all there is.
    return [report for report in reports if report.rows_read] or reports[:1]


class _ShapeGroup:
    """Payload shapes read as one table: the union of their keys, mapped the same way in each.

    A shape joins a group when it agrees with it on every key they share (mapped to the same field, or
    unmapped in both), maps no field to a different key, and has contact fields exactly when the group
    does. So shapes differing only by optional keys (``utm`` in some payloads, ``phone`` left out of
    others) share a table, while ``{"submission_id", "name", ...}`` and ``{"id", "data.이름", ...}``, which
    name the id differently, do not; nor does a stray shape with no contact field (a ping, a test event)
    join a real one, so its rows are rejected for having no email or phone column.
    """

    def __init__(self) -> None:
        self.keys: dict[str, None] = {}  # ordered set: the table's headers
        self.fields: dict[str, str] = {}  # key -> field
        self.keys_of: dict[str, str] = {}  # field -> key
        self.has_contact: bool | None = None
        self.headers: list[str] = []
        self.table: TableRecords

    def accepts(self, shape: tuple[str, ...], mapping: dict[str, str]) -> bool:
        if self.has_contact is not None and self.has_contact != bool(CONTACT_FIELDS & set(mapping.values())):
            return False
        for key in shape:
            if key in self.keys and self.fields.get(key) != mapping.get(key):
                return False
        return all(self.keys_of.get(name, key) == key for key, name in mapping.items())

    def add(self, shape: tuple[str, ...], mapping: dict[str, str]) -> None:
        self.keys.update(dict.fromkeys(shape))
        self.fields.update(mapping)
        self.keys_of.update((name, key) for key, name in mapping.items())
        self.has_contact = bool(CONTACT_FIELDS & set(self.fields.values()))

    def start(self, builder: RecordBuilder, where: str, seen_ids: dict[str, int]) -> None:
        headers = self.headers = list(self.keys)
        self.table = TableRecords(
            builder,
            sheet=None,
            headers=headers,
            mapping={index: self.fields[key] for index, key in enumerate(headers) if key in self.fields},
            header_row=None,
            where=where,
            column_name=lambda index: headers[index],
        )
        self.table.seen_ids = seen_ids


def _flatten(payload: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in payload.items():
        name = f"{prefix}{key}"
        if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], dict | list):
            value = value[0]
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _COMPACT_JSON.encode(value) if value else None
    return cell_text(value)
