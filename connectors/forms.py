"""Reading form submissions: Google Forms response downloads (``.csv``, Korean or English locale) and
webhook captures (``.json`` holding one payload or an array of them, ``.jsonl`` with one per line).

A submission is identified by its own id when the export carries one (``"submission=<id>"``, the same
in every export of the form, so re-exports deduplicate), else by its position in the file.
Nested payload objects are flattened to dotted keys (``data.email``) and matched by their last part;
a one-element list (Apps Script ``namedValues``) counts as its element.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from connectors.headers import CONTACT_FIELDS, SynonymTable, UnreadableFileError, map_headers
from connectors.normalize import cell_text
from connectors.records import FileRead, RecordBuilder, SheetReport, TableRecords, relative_posix_path
from connectors.spreadsheets import CSV_SUFFIXES, detect_encoding, file_modified_at, read_csv_table

__all__ = [
    "JSONL_SUFFIXES",
    "JSON_SUFFIXES",
    "FileRead",
    "SheetReport",
    "UnreadableFileError",
    "read_form_export",
]

JSON_SUFFIXES = frozenset({".json"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_SAMPLE_RECORDS = 200
_JSON = json.JSONEncoder(ensure_ascii=False)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def read_form_export(
    path: Path,
    *,
    inbox_dir: Path,
    default_region: str = "KR",
    extra_synonyms: Mapping[str, Sequence[str]] | None = None,
    local_tz: str = "Asia/Seoul",
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
        default_record_at=file_modified_at(path),
        region=default_region,
        local_tz=local_tz,
        id_key=lambda _sheet, value: f"submission={value}",
        row_key=lambda _sheet, row: f"{relative}:row={row}",
    )
    synonyms = SynonymTable.build(extra_synonyms)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        report, encoding = read_csv_table(path, builder, synonyms)
        return FileRead(builder.table(), [report], encoding)
    if suffix in JSON_SUFFIXES:
        codec, encoding = detect_encoding(path, relative)
        payloads = _json_payloads(path.read_text(encoding=codec), relative)
        report = _read_payloads(payloads, builder, synonyms, where=f"{relative} element ")
        return FileRead(builder.table(), [report], encoding)
    if suffix in JSONL_SUFFIXES:
        codec, encoding = detect_encoding(path, relative)
        with path.open(encoding=codec) as handle:
            payloads = list(_jsonl_payloads(handle))
        report = _read_payloads(payloads, builder, synonyms, where=f"{relative} line ")
        return FileRead(builder.table(), [report], encoding)
    raise UnreadableFileError(
        f"{relative}: not a form export (expected .csv, .json or .jsonl, got {path.suffix!r})"
    )


def _json_payloads(text: str, relative: str) -> list[tuple[int, object, str | None]]:
    """``(element number, payload, problem)`` for a ``.json`` file."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(
            f"{relative}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    if isinstance(document, dict):
        wrapped = _wrapped_list(document)
        document = wrapped if wrapped is not None else [document]
    if not isinstance(document, list) or (document and not any(isinstance(item, dict) for item in document)):
        raise UnreadableFileError(f"{relative}: the JSON is not an object or an array of objects")
    return [
        (number, item, None if isinstance(item, dict) else f"not a JSON object ({type(item).__name__})")
        for number, item in enumerate(document, start=1)
    ]


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
) -> SheetReport:
    flattened = [
        (number, _flatten(payload) if problem is None else {}) for number, payload, problem in payloads
    ]
    keys: dict[str, int] = {}
    for _, flat in flattened:
        for key in flat:
            keys.setdefault(key, len(keys))
    headers = list(keys)
    leaves = [key.rsplit(".", 1)[-1] for key in headers]
    sample = [[_text(flat.get(key)) for key in headers] for _, flat in flattened[:_SAMPLE_RECORDS] if flat]
    mapping = map_headers(leaves, synonyms, sample_rows=sample)
    if headers and not CONTACT_FIELDS & set(mapping.values()):
        raise UnreadableFileError(
            f"{builder.relative_file}: no recognisable contact fields among the keys "
            f"{', '.join(headers[:20])} (need a name, email or phone)"
        )
    table = TableRecords(
        builder,
        sheet=None,
        headers=headers,
        mapping=mapping,
        header_row=None,
        where=where,
        column_name=lambda index: headers[index],
    )
    for (number, payload, problem), (_, flat) in zip(payloads, flattened, strict=True):
        if problem is not None:
            table.add_unparseable(
                number, problem, payload if isinstance(payload, dict) else {"value": payload}
            )
            continue
        values = [flat.get(key) for key in headers]
        table.add(number, [_text(value) for value in values], values, raw_row=_JSON.encode(payload))
    return table.report


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
