"""The SendGrid receiver: a small ASGI app (Starlette) that SendGrid posts to, served by uvicorn.

Two endpoints, and a health check for the proxy in front:

- ``POST /webhooks/sendgrid/events``: the Event Webhook, a JSON array of event objects. The ECDSA signature
  (``X-Twilio-Email-Event-Webhook-Signature``, base64 DER, over the ``X-Twilio-Email-Event-Webhook-Timestamp``
  header followed by the raw body) is checked with the ``sendgrid`` library's ``EventWebhook`` helper against
  the public key SendGrid shows (``DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY``).
- ``POST /webhooks/sendgrid/inbound``: Inbound Parse, a ``multipart/form-data`` body per received email.
  Always behind HTTP basic auth whose password is ``DRIPLINE_INBOUND_SECRET`` (any user name; compared in
  constant time). When a Parse security policy signs the posts, ``DRIPLINE_INBOUND_PARSE_PUBLIC_KEY`` is set
  and the same two headers are checked over the timestamp followed by the raw multipart body, with the key
  loaded by the same helper (verified on bytes: a binary attachment is not UTF-8 text).
- ``GET /healthz``.

Both signed endpoints refuse a timestamp further than the tolerance (default 5 minutes) from now, in
either direction, so a captured request cannot be replayed later.

What each answer means (SendGrid retries anything but a 2xx):

=====  ==========================================================================================
200    verified, parsed and durably spooled (``connectors.webhooks.spool``: fsynced, renamed, directory
       fsynced) before the answer; the body names the spool file
400    not what SendGrid sends: not UTF-8 JSON, not an array of objects, a broken multipart form, a bad
       Content-Length
401    no signature or timestamp header (events, signed inbound), no or wrong basic auth (inbound)
403    a signature that does not verify, or a timestamp outside the tolerance
405    another method (Starlette)
413    a body over the size limit (by Content-Length, or counted while reading a chunked body)
415    another content type
503    the endpoint is not configured (no key or secret: it never accepts unauthenticated posts), or the
       spool could not be written (SendGrid retries; nothing half-written is left behind)
=====  ==========================================================================================

Nothing is stored on any answer but 200. The receiver writes the spool only: it never opens the warehouse
or the landing batches, so it runs beside any pipeline run. The log names the endpoint, the outcome and the
spool file, never an address or a body.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.webhooks.inbound import InboundFormError, parse_inbound_form
from connectors.webhooks.spool import (
    EVENTS,
    INBOUND,
    ensure_directory,
    remove_stale_temporaries,
    spool_dir,
    store_event_request,
    store_inbound_request,
)

EVENTS_PATH = "/webhooks/sendgrid/events"
INBOUND_PATH = "/webhooks/sendgrid/inbound"
HEALTH_PATH = "/healthz"
SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
# SendGrid batches events up to 768 KB; one event past the threshold can push a batch over it.
DEFAULT_MAX_EVENT_BYTES = 2 * 1024 * 1024
# Inbound Parse takes messages up to 30 MB; the form adds its fields around them.
DEFAULT_MAX_INBOUND_BYTES = 32 * 1024 * 1024
DEFAULT_TOLERANCE_SECONDS = 300

log = logging.getLogger("dripline.receiver")


class ReceiverConfigError(ValueError):
    """A public key that cannot be read; raised when the app is built, before it serves anything."""


@dataclass(frozen=True)
class ReceiverConfig:
    """What the app needs; ``orchestration/cli.py`` builds it from the settings."""

    landing_dir: Path
    event_public_key: str | None = None
    inbound_secret: str | None = None
    inbound_parse_public_key: str | None = None
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    max_inbound_bytes: int = DEFAULT_MAX_INBOUND_BYTES


class Rejected(Exception):
    """A request answered with ``status`` and nothing stored."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


def _load_key(setting: str, public_key: str | None) -> ec.EllipticCurvePublicKey | None:
    if not public_key or not public_key.strip():
        return None
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(public_key.strip())
    except (ValueError, TypeError) as error:
        raise ReceiverConfigError(
            f"{setting} is not a base64 public key as SendGrid shows it ({type(error).__name__})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ReceiverConfigError(f"{setting} is not an elliptic-curve (ECDSA) public key")
    return key


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _check_timestamp(request: Request, tolerance: int, now: float) -> tuple[str, str]:
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise Rejected(401, f"unsigned: {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise Rejected(401, f"{TIMESTAMP_HEADER} is not a unix time in seconds")
    skew = now - int(timestamp)
    if skew > tolerance:
        raise Rejected(403, f"stale: signed {int(skew)} s ago, more than the tolerance of {tolerance} s")
    if -skew > tolerance:
        raise Rejected(403, f"signed {int(-skew)} s in the future, more than the tolerance of {tolerance} s")
    return signature, timestamp


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise Rejected(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise Rejected(413, f"body of {int(declared)} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected(413, f"body is over the limit of {limit} bytes")
    return bytes(body)


def _basic_password(request: Request) -> bytes | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    _user, colon, password = decoded.partition(b":")
    return password if colon else None


def _secret_forms(secret: str | None) -> list[bytes]:
    if not secret:
        return []
    forms = [secret.encode("utf-8")]
    with contextlib.suppress(UnicodeEncodeError):
        forms.append(secret.encode("latin-1"))
    return list(dict.fromkeys(forms))


def _verify_bytes(key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature), timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _rejection(endpoint: str, rejected: Rejected) -> Response:
    log.info("%s: %d %s", endpoint, rejected.status, rejected.reason)
    return JSONResponse({"error": rejected.reason}, status_code=rejected.status, headers=rejected.headers)


def _stored(endpoint: str, path: Path, started: float, detail: str) -> Response:
    elapsed_ms = (time.monotonic() - started) * 1e3
    log.info("%s: 200 stored %s (%s) in %.1f ms", endpoint, path.name, detail, elapsed_ms)
    return JSONResponse({"stored": path.name})


def _storage_failure(endpoint: str, error: OSError) -> Response:
    log.error("%s: 503 could not store the request: %s", endpoint, error)
    return JSONResponse({"error": "could not store the request; retry later"}, status_code=503)


async def _answer(endpoint: str, noun: str, accept: Callable[[], Awaitable[tuple[Path, int]]]) -> Response:
    """Run one request's checks and storage (``accept``: the stored file and how many ``noun`` it holds) and
    answer it: 200 once stored, a refusal's own status, 400 when the client went away before its body
    arrived, 503 when storing failed."""
    started = time.monotonic()
    try:
        path, count = await accept()
    except Rejected as rejected:
        return _rejection(endpoint, rejected)
    except ClientDisconnect:
        log.info("%s: the client went away before its body arrived; nothing stored", endpoint)
        return Response(status_code=400)
    except OSError as error:
        return _storage_failure(endpoint, error)
    return _stored(endpoint, path, started, f"{count} {noun}")


def create_app(config: ReceiverConfig, clock: Callable[[], float] = time.time) -> Starlette:
    """The receiver for ``config``; raises ``ReceiverConfigError`` for a key that cannot be read.

    ``clock`` (unix seconds) is what the timestamp tolerance is measured against.
    """
    landing_dir = Path(config.landing_dir)
    event_verifier = EventWebhook()
    event_key = _load_key("DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY", config.event_public_key)
    parse_key = _load_key("DRIPLINE_INBOUND_PARSE_PUBLIC_KEY", config.inbound_parse_public_key)
    # Clients encode a non-ASCII password in basic auth as UTF-8 or as Latin-1; both forms of the secret pass.
    secrets = _secret_forms(config.inbound_secret)

    def accept_events(body: bytes, signature: str, timestamp: str, received_at: datetime) -> tuple[Path, int]:
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "the body is not UTF-8 text") from None
        try:
            verified = event_verifier.verify_signature(payload, signature, timestamp, public_key=event_key)
        except (binascii.Error, ValueError):
            verified = False
        if not verified:
            raise Rejected(403, "the signature does not verify with DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY")
        try:
            events = json.loads(payload)
        except ValueError as error:
            raise Rejected(400, f"the body is not JSON: {error}") from None
        if not isinstance(events, list):
            raise Rejected(400, f"the body is a JSON {type(events).__name__}, not an array of events")
        for position, event in enumerate(events):
            if not isinstance(event, dict):
                kind = type(event).__name__
                raise Rejected(400, f"element {position} is a JSON {kind}, not an event object")
        return store_event_request(landing_dir, body, received_at), len(events)

    async def events_endpoint(request: Request) -> Response:
        received_at = datetime.now(UTC)

        async def accept() -> tuple[Path, int]:
            if event_key is None:
                raise Rejected(503, "DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY is not set: no event is accepted")
            if _media_type(request) != "application/json":
                raise Rejected(415, "expected Content-Type application/json")
            signature, timestamp = _check_timestamp(request, config.tolerance_seconds, clock())
            body = await _read_body(request, config.max_event_bytes)
            return await run_in_threadpool(accept_events, body, signature, timestamp, received_at)

        return await _answer(EVENTS_PATH, "events", accept)

    def accept_inbound(
        body: bytes, content_type: str, signed: tuple[str, str] | None, received_at: datetime
    ) -> tuple[Path, int]:
        if parse_key is not None:
            assert signed is not None
            if not _verify_bytes(parse_key, *signed, body):
                raise Rejected(403, "the signature does not verify with DRIPLINE_INBOUND_PARSE_PUBLIC_KEY")
        try:
            fields, attachments = parse_inbound_form(body, content_type)
        except InboundFormError as error:
            raise Rejected(400, str(error)) from None
        return store_inbound_request(landing_dir, fields, attachments, received_at), len(attachments)

    async def inbound_endpoint(request: Request) -> Response:
        received_at = datetime.now(UTC)

        async def accept() -> tuple[Path, int]:
            if not secrets:
                raise Rejected(503, "DRIPLINE_INBOUND_SECRET is not set: inbound mail is not accepted")
            password = _basic_password(request)
            if password is None or not any([hmac.compare_digest(password, form) for form in secrets]):
                raise Rejected(
                    401,
                    "basic auth with the inbound secret is required",
                    headers={"WWW-Authenticate": 'Basic realm="dripline inbound", charset="UTF-8"'},
                )
            if _media_type(request) != "multipart/form-data":
                raise Rejected(415, "expected Content-Type multipart/form-data")
            signed = None
            if parse_key is not None:
                signed = _check_timestamp(request, config.tolerance_seconds, clock())
            body = await _read_body(request, config.max_inbound_bytes)
            content_type = request.headers["content-type"]
            return await run_in_threadpool(accept_inbound, body, content_type, signed, received_at)

        return await _answer(INBOUND_PATH, "attachments", accept)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    for kind in (EVENTS, INBOUND):
        ensure_directory(spool_dir(landing_dir, kind))
    remove_stale_temporaries(landing_dir)
    return Starlette(
        routes=[
            Route(EVENTS_PATH, events_endpoint, methods=["POST"]),
            Route(INBOUND_PATH, inbound_endpoint, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ]
    )
