"""The pickup: every spool file the receiver wrote becomes one landing batch dbt reads.

``collect_webhook_requests(landing_dir)`` lands each spool file not yet collected as one batch whose id is
the spool file's stem, so running it again (or after a crash half-way) lands nothing twice:

- ``landing/sendgrid/events``: one row per element of an Event Webhook array, duplicates kept (SendGrid
  delivers at least once; dbt deduplicates on ``sg_event_id``). The columns SendGrid names are copied out
  (our ``custom_args`` arrive as top-level keys: ``send_id``, ``campaign``, ``step``, ``customer_id``), and
  ``record`` keeps the element exactly as it was in the body.
- ``landing/sendgrid/replies``: one row per Inbound Parse request, with the threading headers, the sender's
  bare address, the reply token of our reply-to address (``local+<send_id>@domain``) and, for an automatic
  answer (out of office and the like), why it is one.

It is tolerant by design: nothing here raises for what a request contains. A spool file that cannot be read
as what it should be lands as one row holding its raw text in ``record`` (every other column null) and is
named in ``CollectReport.issues``; an array element that is not an object, or has no ``event``, lands with
``record`` set and the rest null; a value of an unexpected type is null in its typed column and still in
``record``. Plain Python, no Dagster: the Dagster assets (and ``make run``) call it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_string, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.core.landing import LandingZone
from connectors.webhooks.spool import EVENTS, INBOUND, received_at_of, spool_files

_TS = pa.timestamp("us", tz="UTC")
_INT64_MAX = 2**63 - 1

EVENT_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", _TS, nullable=False),
        pa.field("_request", pa.string(), nullable=False),
        pa.field("_position", pa.int64()),
        pa.field("received_at", _TS),
        pa.field("sg_event_id", pa.string()),
        pa.field("event", pa.string()),
        pa.field("email", pa.string()),
        pa.field("event_at", _TS),
        pa.field("sg_message_id", pa.string()),
        pa.field("send_id", pa.string()),
        pa.field("campaign", pa.string()),
        pa.field("step", pa.string()),
        pa.field("customer_id", pa.string()),
        pa.field("type", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("status", pa.string()),
        pa.field("response", pa.string()),
        pa.field("url", pa.string()),
        pa.field("sg_machine_open", pa.bool_()),
        pa.field("useragent", pa.string()),
        pa.field("asm_group_id", pa.int64()),
        pa.field("category", pa.string()),
        pa.field("record", pa.string()),
    ]
)

REPLY_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", _TS, nullable=False),
        pa.field("_request", pa.string(), nullable=False),
        pa.field("received_at", _TS),
        pa.field("message_id", pa.string()),
        pa.field("in_reply_to", pa.string()),
        pa.field("references", pa.string()),
        pa.field("from_address", pa.string()),
        pa.field("from_raw", pa.string()),
        pa.field("to_raw", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("text", pa.string()),
        pa.field("reply_token", pa.string()),
        pa.field("auto_reply_reason", pa.string()),
        pa.field("attachment_count", pa.int64()),
        pa.field("record", pa.string()),
    ]
)

_TEXT_COLUMNS = (
    "sg_event_id",
    "event",
    "email",
    "sg_message_id",
    "send_id",
    "campaign",
    "step",
    "customer_id",
    "type",
    "reason",
    "status",
    "response",
    "url",
    "useragent",
)


def events_zone(landing_dir: Path) -> LandingZone:
    return LandingZone(Path(landing_dir), "sendgrid", "events", EVENT_SCHEMA)


def replies_zone(landing_dir: Path) -> LandingZone:
    return LandingZone(Path(landing_dir), "sendgrid", "replies", REPLY_SCHEMA)


@dataclass
class CollectReport:
    """What one pickup did. ``issues`` name the spool file and the problem, never a value from it."""

    event_requests: int = 0
    events: int = 0
    inbound_requests: int = 0
    replies: int = 0
    auto_replies: int = 0
    already_collected: int = 0
    unparseable: int = 0
    issues: list[str] = field(default_factory=list)


def collect_webhook_requests(landing_dir: Path) -> CollectReport:
    """Land every spool file not yet landed (events, then inbound requests), oldest first."""
    report = CollectReport()
    events, replies = events_zone(landing_dir), replies_zone(landing_dir)
    events.prepare()
    replies.prepare()
    for path in spool_files(landing_dir, EVENTS):
        if events.has_batch(path.stem):
            report.already_collected += 1
            continue
        report.events += events.write_batch(path.stem, event_table(path, report))
        report.event_requests += 1
    for path in spool_files(landing_dir, INBOUND):
        if replies.has_batch(path.stem):
            report.already_collected += 1
            continue
        row = reply_row(path, report)
        report.replies += replies.write_batch(path.stem, [row])
        report.inbound_requests += 1
        report.auto_replies += row["auto_reply_reason"] is not None
    return report


# --- events ---------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def split_json_array(text: str) -> list[tuple[Any, str]]:
    """Each element of a JSON array with its exact source text; ``ValueError`` for anything else."""
    position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    if text[position : position + 1] != "[":
        raise ValueError("not a JSON array")
    position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
    elements: list[tuple[Any, str]] = []
    if text[position : position + 1] == "]":
        position += 1
    else:
        while True:
            value, end = _DECODER.raw_decode(text, position)
            elements.append((value, text[position:end]))
            position = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
            separator = text[position : position + 1]
            position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
            if separator == "]":
                break
            if separator != ",":
                raise ValueError(f"expected ',' or ']' at character {position}")
    if _WHITESPACE.match(text, position).end() != len(text):  # type: ignore[union-attr]
        raise ValueError("text after the array")
    return elements


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _unix_time(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int) and -_INT64_MAX - 1 <= value <= _INT64_MAX:
        return value
    return None


def event_table(path: Path, report: CollectReport | None = None) -> pa.Table:
    """The rows of one event spool file, one per array element (one raw row when it is not an array).

    Built column by column: a busy day's pickup reads millions of events.
    """
    request, received_at = path.name, received_at_of(path)
    data = path.read_bytes()
    try:
        elements = split_json_array(data.decode("utf-8"))
        positions: list[int | None] = list(range(len(elements)))
    except (UnicodeDecodeError, ValueError) as error:
        if report is not None:
            report.unparseable += 1
            problem = f"not a JSON array of events ({type(error).__name__})"
            report.issues.append(f"{request}: {problem}; landed raw")
        elements = [(None, data.decode("utf-8", errors="replace"))]
        positions = [None]
    n = len(elements)
    events = [e if isinstance(e, dict) and e.get("event") is not None else None for e, _ in elements]
    columns: dict[str, list[Any]] = {
        "_request": [request] * n,
        "_position": positions,
        "received_at": [received_at] * n,
        "event_at": [None if e is None else _unix_time(e.get("timestamp")) for e in events],
        "sg_machine_open": [None if e is None else _boolean(e.get("sg_machine_open")) for e in events],
        "asm_group_id": [None if e is None else _integer(e.get("asm_group_id")) for e in events],
        "category": [None if e is None else _text(e.get("category")) for e in events],
        "record": [raw for _, raw in elements],
    }
    for column in _TEXT_COLUMNS:
        columns[column] = [None if e is None else _text(e.get(column)) for e in events]
    schema = events_zone(Path()).reader_schema
    return pa.table([pa.array(columns[f.name], type=f.type) for f in schema], schema=schema)


# --- replies --------------------------------------------------------------------------------------------

_AUTO_SUBJECTS = (
    ("Out of Office", re.compile(r"\bout of (the )?office\b", re.IGNORECASE)),
    ("Automatic reply", re.compile(r"\bautomatic reply\b", re.IGNORECASE)),
    ("Auto-Reply", re.compile(r"\bauto[- ]?reply\b", re.IGNORECASE)),
    ("자동 회신", re.compile(r"자동\s*회신")),
    ("자동 응답", re.compile(r"자동\s*응답")),
    ("부재중", re.compile(r"부재\s*중")),
)
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond")
_AUTO_PRECEDENCE = ("auto_reply", "bulk", "junk")


def _unfold(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"\r?\n[ \t]+", " ", str(value)).strip() or None


def auto_reply_reason(headers: Message, subject: str | None) -> str | None:
    """Why a message is an automatic answer (RFC 3834 and the usual vendor marks), or None for a person's."""
    submitted = _unfold(headers.get("Auto-Submitted"))
    if submitted and submitted.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {submitted}"
    for name in _AUTO_HEADERS:
        if headers.get(name) is not None:
            return name
    precedence = (_unfold(headers.get("Precedence")) or "").lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for label, pattern in _AUTO_SUBJECTS:
        if subject and pattern.search(subject):
            return f"subject: {label}"
    return None


def reply_token(to_raw: str | None, envelope: str | None) -> str | None:
    """The +tag of the first ``local+TOKEN@domain`` address in ``to``, else in the envelope's ``to``."""
    addresses = [address for _, address in getaddresses([to_raw])] if to_raw else []
    try:
        parsed = json.loads(envelope) if envelope else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        recipients = parsed.get("to")
        if isinstance(recipients, str):
            recipients = [recipients]
        if isinstance(recipients, list):
            addresses += [parseaddr(r)[1] for r in recipients if isinstance(r, str)]
    for address in addresses:
        local, at, _ = address.rpartition("@")
        if at and "+" in local:
            token = local.split("+", 1)[1].strip()
            if token:
                return token
    return None


def _decoded_header(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _unfold(str(make_header(decode_header(value))))
    except (ValueError, LookupError, UnicodeError):
        return _unfold(value)


def _raw_mode_text(raw_message: str) -> str | None:
    """The text/plain body of a raw MIME message (Inbound Parse's ``email`` field in raw mode)."""
    try:
        body = message_from_string(raw_message, policy=policy.default).get_body(preferencelist=("plain",))
        return None if body is None else body.get_content()
    except Exception:  # the email package raises many kinds on malformed MIME; the text is in record anyway
        return None


def _empty_reply(request: str, received_at: datetime | None, record: str) -> dict:
    row: dict[str, Any] = {name: None for name in REPLY_SCHEMA.names[2:]}
    row.update(_request=request, received_at=received_at, record=record)
    return row


def reply_row(path: Path, report: CollectReport | None = None) -> dict:
    """The row of one inbound spool file."""
    request, received_at = path.name, received_at_of(path)
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
        fields = document["fields"]
        if not isinstance(fields, dict):
            raise TypeError("fields is not an object")
        fields = {str(k): v for k, v in fields.items() if isinstance(v, str)}
        attachments = document.get("attachments") or []
        if not isinstance(attachments, list):
            raise TypeError("attachments is not a list")
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        if report is not None:
            report.unparseable += 1
            problem = f"not an inbound request object ({type(error).__name__})"
            report.issues.append(f"{request}: {problem}; landed raw")
        return _empty_reply(request, received_at, data.decode("utf-8", errors="replace"))

    if received_at is None and isinstance(document.get("received_at"), str):
        try:
            received_at = datetime.fromisoformat(document["received_at"]).astimezone(UTC)
        except ValueError:
            received_at = None
    raw_message = fields.get("email")
    header_block = fields.get("headers")
    if header_block is None and raw_message is not None:
        header_block = raw_message
    headers = HeaderParser(policy=policy.compat32).parsestr(header_block or "", headersonly=True)
    subject = fields.get("subject")
    if subject is None:
        subject = _decoded_header(headers.get("Subject"))
    text = fields.get("text")
    if text is None and raw_message is not None:
        text = _raw_mode_text(raw_message)
    from_raw = fields.get("from")
    if from_raw is None:
        from_raw = _decoded_header(headers.get("From"))
    to_raw = fields.get("to")
    if to_raw is None:
        to_raw = _decoded_header(headers.get("To"))
    sender = parseaddr(from_raw or "")[1].strip().lower()

    listed = [
        {k: v for k, v in a.items() if k != "content_base64"} if isinstance(a, dict) else a
        for a in attachments
    ]
    record = json.dumps({**document, "attachments": listed}, ensure_ascii=False)
    row = _empty_reply(request, received_at, record)
    row.update(
        message_id=_unfold(headers.get("Message-ID")),
        in_reply_to=_unfold(headers.get("In-Reply-To")),
        references=_unfold(headers.get("References")),
        from_address=sender if "@" in sender else None,
        from_raw=from_raw,
        to_raw=to_raw,
        subject=subject,
        text=text,
        reply_token=reply_token(to_raw, fields.get("envelope")),
        auto_reply_reason=auto_reply_reason(headers, subject),
        attachment_count=len(attachments),
    )
    return row
