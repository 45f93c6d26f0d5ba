"""The raw request spool: what the receiver keeps of every request it acknowledged, durably, before the 2xx.

Layout under the home's landing directory (docs/receiver.md, the receiver contract)::

    sendgrid/webhook_requests/events/<YYYYMMDDTHHMMSS.ffffffZ>-<sha256[:16]>.json    one Event Webhook POST
    sendgrid/webhook_requests/inbound/<YYYYMMDDTHHMMSS.ffffffZ>-<sha256[:16]>.json   one Inbound Parse POST

The time is the receive time (UTC) and the hash is of the file's bytes: for an event request the exact raw
body, for an inbound request the JSON object written. A file is written to a hidden temporary name in the
same directory (``.tmp-…partial``), fsynced, renamed into place and the directory fsynced, so a file that
exists is whole and survives a crash or a power cut. Spool files are immutable and never deleted; the pickup
(``connectors.webhooks.pickup``) turns each into one landing batch.

``store_event_request`` and ``store_inbound_request`` are what the receiver calls; a replay of captured or
sample requests goes through the same two functions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.core.landing import STALE_TEMP_SECONDS, TEMP_PREFIX, TEMP_SUFFIX

SPOOL_PARTS = ("sendgrid", "webhook_requests")
EVENTS = "events"
INBOUND = "inbound"
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{16}$")


def spool_dir(landing_dir: Path, kind: str) -> Path:
    """``<landing>/sendgrid/webhook_requests/<kind>``; kind is ``events`` or ``inbound``."""
    if kind not in (EVENTS, INBOUND):
        raise ValueError(f"unknown spool {kind!r}; expected {EVENTS!r} or {INBOUND!r}")
    return Path(landing_dir).joinpath(*SPOOL_PARTS, kind)


def spool_files(landing_dir: Path, kind: str) -> list[Path]:
    """Every finished spool file of ``kind``, oldest first (the names sort by receive time)."""
    directory = spool_dir(landing_dir, kind)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if not p.name.startswith(TEMP_PREFIX))


def received_at_of(path: Path) -> datetime | None:
    """The receive time a spool file's name carries, or None for a name not of the spool's form."""
    match = _NAME.match(Path(path).stem)
    if match is None:
        return None
    return datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=UTC)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return moment.astimezone(UTC)


def ensure_directory(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each new entry fsynced into its parent."""
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        _fsync_directory(path.parent)


def remove_stale_temporaries(landing_dir: Path) -> int:
    """Remove what a killed receiver left half-written (never acknowledged, so nothing is lost)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    removed = 0
    for kind in (EVENTS, INBOUND):
        directory = spool_dir(landing_dir, kind)
        if not directory.is_dir():
            continue
        for leftover in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
    return removed


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_write(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` so that once this returns the file is whole on disk.

    Temporary file in the same directory, write, fsync, ``os.replace``, fsync the directory. Writing the
    same name twice leaves one file (the spool names are content hashes, so the bytes are the same).
    Raises ``OSError`` when anything fails; the temporary file is removed then.
    """
    ensure_directory(directory)
    target = directory / name
    temp = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return target


def _spool_name(received_at: datetime, data: bytes) -> str:
    return f"{received_at.strftime(_STAMP_FORMAT)}-{hashlib.sha256(data).hexdigest()[:16]}.json"


def store_event_request(landing_dir: Path, body: bytes, received_at: datetime | None = None) -> Path:
    """Spool the exact raw body of one Event Webhook POST; returns the spool file.

    The body is stored as it is, unchecked: the receiver verifies and parses it before calling this, and a
    replay may land anything (the pickup lands what it cannot parse as one row holding the raw text).
    """
    moment = _utc(received_at)
    data = bytes(body)
    return durable_write(spool_dir(landing_dir, EVENTS), _spool_name(moment, data), data)


@dataclass(frozen=True)
class InboundAttachment:
    """One file part of an Inbound Parse POST (``attachment1`` …)."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


def inbound_document(
    fields: Mapping[str, str],
    attachments: Sequence[InboundAttachment | Mapping[str, object]],
    received_at: datetime,
) -> dict[str, object]:
    """The spool object of one inbound request: received_at, fields, attachments (contents in base64)."""
    stored = []
    for attachment in attachments:
        if isinstance(attachment, Mapping):
            if "content" in attachment:
                content = bytes(attachment["content"])  # type: ignore[arg-type]
            else:  # a spool file's own attachment, replayed
                content = base64.b64decode(str(attachment["content_base64"]), validate=True)
            attachment = InboundAttachment(
                field=str(attachment["field"]),
                filename=attachment.get("filename"),  # type: ignore[arg-type]
                content_type=attachment.get("content_type"),  # type: ignore[arg-type]
                content=content,
            )
        stored.append(
            {
                "field": attachment.field,
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": len(attachment.content),
                "sha256": hashlib.sha256(attachment.content).hexdigest(),
                "content_base64": base64.b64encode(attachment.content).decode("ascii"),
            }
        )
    return {
        "received_at": received_at.isoformat(timespec="microseconds"),
        "fields": {str(name): str(value) for name, value in fields.items()},
        "attachments": stored,
    }


def store_inbound_request(
    landing_dir: Path,
    fields: Mapping[str, str],
    attachments: Sequence[InboundAttachment | Mapping[str, object]] = (),
    received_at: datetime | None = None,
) -> Path:
    """Spool one Inbound Parse POST as a JSON object; returns the spool file.

    ``fields`` are the text form fields, already decoded (``headers``, ``from``, ``to``, ``subject``,
    ``text``, ``envelope``, ``charsets`` …, or ``email`` in raw mode); ``attachments`` are
    ``InboundAttachment``s or mappings with ``field``, ``filename``, ``content_type`` and ``content``
    (bytes) or ``content_base64`` (as a spool file holds them, so a spool document replays as it is).
    """
    moment = _utc(received_at)
    document = inbound_document(fields, attachments, moment)
    data = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return durable_write(spool_dir(landing_dir, INBOUND), _spool_name(moment, data), data)
