"""Reading one Inbound Parse POST: a ``multipart/form-data`` body into text fields and file parts.

SendGrid posts the parsed message as form fields (``headers``, ``dkim``, ``content-ids``, ``to``, ``cc``,
``from``, ``text``, ``html``, ``sender_ip``, ``spam_report``, ``envelope``, ``attachments`` (a count),
``subject``, ``spam_score``, ``attachment-info``, ``charsets``, ``SPF``) and one file part per attachment
(``attachment1`` …); in raw mode the whole MIME message arrives in ``email`` instead. ``charsets`` is a JSON
object naming the character set of each field, and every text field is decoded with its own: the charset
``charsets`` names, else the part's own ``Content-Type`` charset, else UTF-8. A field whose bytes do not
decode with the charset named falls back to UTF-8, then to Latin-1 (which maps every byte, so the original
bytes can always be recovered from the text).

The body is parsed from bytes already read (the receiver verifies a signature over the raw body first), with
``python-multipart``'s streaming parser.
"""

from __future__ import annotations

import codecs
import json

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from connectors.webhooks.spool import InboundAttachment

MAX_PARTS = 1000


class InboundFormError(ValueError):
    """The body is not a well-formed multipart form (the receiver answers 400)."""


def boundary_of(content_type: str) -> bytes:
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise InboundFormError(f"expected multipart/form-data, got {media_type.decode('latin-1')!r}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InboundFormError("the Content-Type has no multipart boundary")
    return boundary


class _Part:
    __slots__ = ("content_type", "data", "disposition", "filename", "name")

    def __init__(self) -> None:
        self.disposition = b""
        self.content_type = b""
        self.name: str | None = None
        self.filename: str | None = None
        self.data = bytearray()


def _header_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _parts(body: bytes, boundary: bytes) -> list[_Part]:
    parts: list[_Part] = []
    state = {"header_name": b"", "header_value": b"", "ended": False}
    current = _Part()

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()
        if len(parts) >= MAX_PARTS:
            raise InboundFormError(f"more than {MAX_PARTS} form parts")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current.data += data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        name = state["header_name"].lower()
        if name == b"content-disposition":
            current.disposition = state["header_value"]
        elif name == b"content-type":
            current.content_type = state["header_value"]
        state["header_name"] = state["header_value"] = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(current.disposition)
        if b"name" not in options:
            raise InboundFormError("a form part has no name in its Content-Disposition")
        current.name = _header_text(options[b"name"])
        if b"filename" in options:
            current.filename = _header_text(options[b"filename"])

    def on_part_end() -> None:
        parts.append(current)

    def on_end() -> None:
        state["ended"] = True

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_end": on_end,
    }
    parser = python_multipart.MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as error:
        raise InboundFormError(f"invalid multipart body: {error}") from None
    if not state["ended"]:
        raise InboundFormError("the multipart body is cut off (no closing boundary)")
    return parts


def _decode(data: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(codecs.lookup(candidate).name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _part_charset(content_type: bytes) -> str | None:
    if not content_type:
        return None
    _, params = parse_options_header(content_type)
    charset = params.get(b"charset")
    return charset.decode("latin-1") if charset else None


def parse_inbound_form(body: bytes, content_type: str) -> tuple[dict[str, str], list[InboundAttachment]]:
    """The text fields (decoded per ``charsets``) and the file parts of one Inbound Parse body.

    A field name that repeats keeps its first value under the name and later ones as ``name#2`` … (nothing
    is dropped). Raises ``InboundFormError`` for a body that is not a complete multipart form with at least
    one part.
    """
    parts = _parts(body, boundary_of(content_type))
    if not parts:
        raise InboundFormError("the multipart body has no parts")
    text_parts = [p for p in parts if p.filename is None]
    charsets: dict[str, str] = {}
    for part in text_parts:
        if part.name == "charsets":
            try:
                loaded = json.loads(part.data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                loaded = None
            if isinstance(loaded, dict):
                charsets = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str)}
            break
    fields: dict[str, str] = {}
    for part in text_parts:
        assert part.name is not None
        name, n = part.name, 1
        while name in fields:
            n += 1
            name = f"{part.name}#{n}"
        fields[name] = _decode(bytes(part.data), charsets.get(part.name) or _part_charset(part.content_type))
    attachments = [
        InboundAttachment(
            field=p.name or "",
            filename=p.filename,
            content_type=_header_text(p.content_type) if p.content_type else None,
            content=bytes(p.data),
        )
        for p in parts
        if p.filename is not None
    ]
    return fields, attachments
