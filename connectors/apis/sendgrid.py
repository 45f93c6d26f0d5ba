"""SendGrid v3 Mail Send: one request body out through the ``sendgrid`` library, one outcome per
personalization back.

``SendGridMailer.send`` takes the request body as a plain dict (``personalizations`` 1 to 1000, ``from``,
``subject``/``content`` or ``template_id``, ``custom_args``, ``categories``, ``asm``, ...) and posts it
with ``sendgrid.SendGridAPIClient(api_key, host=base_url).send`` to ``{base_url}/v3/mail/send``. Every
call has a timeout (``timeout``, set on the library's HTTP client). What each answer means:

- 202: every personalization is accepted; the ``X-Message-Id`` header is kept for each, to join the
  Event Webhook's ``sg_message_id`` later.
- 200: sandbox mode; accepted but not delivered, so ``BatchResult.sandbox`` is true.
- 429: wait until ``X-RateLimit-Reset`` (or ``Retry-After`` when that is longer), then send the same
  request again. The waits of one ``send`` add up to at most ``max_rate_limit_wait`` seconds; past it
  the personalizations still waiting fail, retryable.
- 5xx, connection errors and timeouts: the same request again, at most ``max_retries`` more times, with
  exponential backoff. Exhausted on 5xx or on a connection that never reached SendGrid: ``failed`` and
  ``retryable``. If an attempt timed out after the request was sent, SendGrid may have accepted it (the
  API has no idempotency key): those personalizations end ``unknown`` unless a later attempt is
  accepted, and a caller must never resend an ``unknown`` one blindly.
- 400: SendGrid rejected the whole request and sent nothing. Errors whose ``field`` names a
  personalization (``personalizations.3.to.0.email``) fail that one with SendGrid's message and the rest
  are sent again without it. An error naming no personalization (a bad ``from``) fails every
  personalization still in the request.
- 413: the personalizations are split in halves, each sent on its own (recursively); a single
  personalization still too large fails.
- 401/403: ``SendGridAuthError`` at once, naming the setting ``DRIPLINE_SENDGRID_API_KEY``, the status
  and SendGrid's message. Any other unexpected status (404, 405, 415, a redirect) raises
  ``SendGridError``: the base URL or the request is wrong, and every later request would fail the same.
  Both carry ``result``: the outcomes settled before the error, the rest ``failed`` and retryable (or
  ``unknown`` where a timed-out attempt may have been accepted).

Duplicate risk: a request whose answer was lost to a timeout is retried, so SendGrid may accept it up to
``1 + max_retries`` times. ``retry_timeouts=False`` retries only answers that prove nothing was sent
(5xx, 429, refused connections); a timeout then ends ``unknown`` after one copy at most.

Nothing is logged here. The library's HTTP client logs request bodies (addresses) and the
``Authorization`` header at DEBUG; those records are dropped by a filter installed on its logger.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

import sendgrid
from pydantic import SecretStr
from python_http_client.exceptions import HTTPError

__all__ = [
    "API_KEY_SETTING",
    "DEFAULT_BASE_URL",
    "BatchResult",
    "RecipientOutcome",
    "SendGridAuthError",
    "SendGridError",
    "SendGridMailer",
]

API_KEY_SETTING = "DRIPLINE_SENDGRID_API_KEY"
DEFAULT_BASE_URL = "https://api.sendgrid.com"
ACCEPTED = "accepted"
FAILED = "failed"
UNKNOWN = "unknown"
# X-RateLimit-Reset has whole-second resolution: never spin on a reset that already passed.
_MIN_RATE_LIMIT_WAIT = 0.5
_MAX_BACKOFF = 60.0
_ERROR_TEXT_LIMIT = 300
_PERSONALIZATION_FIELD = re.compile(r"personalizations(?:\.|\[)(\d+)\]?")
_LIBRARY_LOGGER = "python_http_client.client"


@dataclass(frozen=True)
class RecipientOutcome:
    """What became of one personalization of the request, by its position in ``personalizations``."""

    index: int
    status: str
    message_id: str | None
    error: str | None
    retryable: bool = False


@dataclass
class BatchResult:
    """One outcome per personalization, in the order sent, and what it took on the wire.

    ``requests`` counts every HTTP attempt (429s included), ``retries`` the repeats after a 5xx, a
    timeout or a connection error, ``rate_limit_waits`` and ``rate_limit_wait_seconds`` the 429 pauses.
    """

    outcomes: list[RecipientOutcome]
    sandbox: bool = False
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(outcome.status == ACCEPTED for outcome in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(outcome.status == FAILED for outcome in self.outcomes)

    @property
    def unknown(self) -> int:
        return sum(outcome.status == UNKNOWN for outcome in self.outcomes)

    def as_metadata(self) -> dict[str, int | float | bool]:
        """Counts only, no addresses: fit for logs and Dagster metadata."""
        return {
            "personalizations": len(self.outcomes),
            "accepted": self.accepted,
            "failed": self.failed,
            "unknown": self.unknown,
            "sandbox": self.sandbox,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
        }


class SendGridError(RuntimeError):
    """SendGrid answered in a way no retry or split can fix; ``result`` holds what was settled before."""

    def __init__(self, message: str, *, status: int | None = None, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.maybe_sent = maybe_sent
        self.result: BatchResult | None = None


class SendGridAuthError(SendGridError):
    """401 or 403: the API key is wrong, revoked or lacks the ``mail.send`` scope."""


@dataclass
class _Answer:
    """How one request (with its retries and waits) ended."""

    kind: str  # "accepted", "rejected" (400), "too_large" (413) or "gave_up"
    message_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    retryable: bool = False
    unknown: bool = False


class _DropWireDumps(logging.Filter):
    """python_http_client logs bodies and headers (the API key) at DEBUG; let none of it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


class SendGridMailer:
    """Sends v3 mail/send request bodies and reports each personalization's outcome."""

    MAX_PERSONALIZATIONS = 1000

    def __init__(
        self,
        api_key: str | SecretStr,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        max_rate_limit_wait: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        retry_timeouts: bool = True,
    ) -> None:
        """``max_retries``: repeats of one request after a 5xx, a timeout or a connection error (so at
        most ``1 + max_retries`` attempts); ``backoff_seconds`` doubles after each; ``max_rate_limit_wait``
        bounds the 429 waits of one ``send``; ``retry_timeouts=False`` never repeats a request whose
        answer timed out (at most one copy accepted)."""
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        if not key.get_secret_value().strip():
            raise ValueError(f"{API_KEY_SETTING} is empty; set it to a SendGrid API key with mail.send")
        if timeout <= 0:
            raise ValueError("timeout must be more than 0 seconds")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.base_url = _check_base_url(base_url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_rate_limit_wait = max_rate_limit_wait
        self.retry_timeouts = retry_timeouts
        self._sleep = sleep
        self._key = key
        self._client = sendgrid.SendGridAPIClient(key.get_secret_value(), host=self.base_url)
        # The library's send() takes no timeout; its HTTP client passes this one to every urlopen.
        self._client.client.timeout = timeout
        _silence_library_logger()

    def __repr__(self) -> str:
        return f"SendGridMailer(base_url={self.base_url!r}, api_key={self._key})"

    def send(self, message: Mapping[str, Any]) -> BatchResult:
        """Send one v3 mail/send body; one ``RecipientOutcome`` per personalization, in order.

        Raises ``ValueError`` for a body that is not a dict with 1 to 1000 personalizations (nothing is
        sent), ``SendGridAuthError`` on 401/403 and ``SendGridError`` on other unexpected answers.
        """
        personalizations = _personalizations(message, self.MAX_PERSONALIZATIONS)
        result = BatchResult(outcomes=[])
        settled: dict[int, RecipientOutcome] = {}
        pending: list[list[int]] = [list(range(len(personalizations)))]
        in_flight: list[int] = []
        try:
            while pending:
                group = in_flight = pending.pop()
                body = {**message, "personalizations": [personalizations[i] for i in group]}
                answer = self._post(body, result)
                for later in reversed(self._settle(group, answer, settled)):
                    pending.append(later)
                in_flight = []
        except SendGridError as exc:
            for index in range(len(personalizations)):
                if index not in settled:
                    status = UNKNOWN if exc.maybe_sent and index in in_flight else FAILED
                    settled[index] = RecipientOutcome(index, status, None, str(exc), status == FAILED)
            result.outcomes = [settled[index] for index in range(len(personalizations))]
            exc.result = result
            raise
        result.outcomes = [settled[index] for index in range(len(personalizations))]
        return result

    def _settle(
        self, group: list[int], answer: _Answer, settled: dict[int, RecipientOutcome]
    ) -> list[list[int]]:
        """Record the outcomes ``answer`` decides for ``group``; return the groups to send next, in order."""
        if answer.kind == "accepted":
            for index in group:
                settled[index] = RecipientOutcome(index, ACCEPTED, answer.message_id, None)
            return []
        if answer.kind == "too_large":
            if len(group) == 1:
                settled[group[0]] = RecipientOutcome(group[0], FAILED, None, answer.error)
                return []
            half = (len(group) + 1) // 2
            return [group[:half], group[half:]]
        if answer.kind == "rejected":
            named: dict[int, list[str]] = {}
            general: list[str] = []
            for error in answer.errors:
                position = _personalization_position(error.get("field"), len(group))
                if position is None:
                    general.append(self._describe(error, group))
                else:
                    named.setdefault(group[position], []).append(self._describe(error, group))
            if not named and not general:
                general.append("SendGrid 400: Bad Request")
            for index, messages in named.items():
                settled[index] = RecipientOutcome(index, FAILED, None, "; ".join(messages))
            rest = [index for index in group if index not in named]
            if general:
                # An error about the message itself would reject every later request too.
                for index in rest:
                    settled[index] = RecipientOutcome(index, FAILED, None, "; ".join(general))
                return []
            return [rest] if rest else []
        status = UNKNOWN if answer.unknown else FAILED
        for index in group:
            settled[index] = RecipientOutcome(
                index, status, None, answer.error, answer.retryable and status == FAILED
            )
        return []

    def _post(self, body: dict[str, Any], result: BatchResult) -> _Answer:
        """POST ``body`` until SendGrid gives a final answer, retrying and waiting within the bounds."""
        attempts = 0
        failures = 0
        maybe_sent = False
        while True:
            attempts += 1
            result.requests += 1
            try:
                response = self._client.send(body)
            except HTTPError as exc:
                status = exc.status_code
                text = self._error_text(exc.body)
                if status in (401, 403):
                    raise SendGridAuthError(
                        f"SendGrid rejected the API key (HTTP {status}: {text}); check the setting "
                        f"{API_KEY_SETTING} (a key with the mail.send permission).",
                        status=status,
                        maybe_sent=maybe_sent,
                    ) from None
                if status == 429:
                    wait = _rate_limit_wait(exc.headers)
                    if result.rate_limit_wait_seconds + wait > self.max_rate_limit_wait:
                        return _Answer(
                            "gave_up",
                            error=f"SendGrid 429 after {attempts} attempts: {text}; waiting {wait:.0f} s "
                            f"more would pass max_rate_limit_wait ({self.max_rate_limit_wait:.0f} s)",
                            retryable=True,
                            unknown=maybe_sent,
                        )
                    self._sleep(wait)
                    result.rate_limit_waits += 1
                    result.rate_limit_wait_seconds += wait
                    continue
                if status >= 500:
                    failures += 1
                    if failures <= self.max_retries:
                        self._back_off(failures, result)
                        continue
                    return _Answer(
                        "gave_up",
                        error=f"SendGrid {status} after {attempts} attempts: {text}",
                        retryable=True,
                        unknown=maybe_sent,
                    )
                if status == 400:
                    return _Answer("rejected", errors=_errors(exc.body))
                if status == 413:
                    return _Answer("too_large", error=f"SendGrid 413: {text}")
                raise SendGridError(
                    f"SendGrid answered HTTP {status} to POST {self.base_url}/v3/mail/send: {text}; "
                    "check the SendGrid base URL and the request body.",
                    status=status,
                    maybe_sent=maybe_sent,
                ) from None
            except URLError as exc:
                # urllib raises URLError only while connecting or writing the request: nothing was sent.
                failures += 1
                if failures <= self.max_retries:
                    self._back_off(failures, result)
                    continue
                reason = self._redact(str(exc.reason))
                return _Answer(
                    "gave_up",
                    error=f"could not reach SendGrid after {attempts} attempts: {reason}",
                    retryable=True,
                    unknown=maybe_sent,
                )
            except (OSError, http.client.HTTPException) as exc:
                # The request went out and its answer was lost: SendGrid may have accepted it.
                maybe_sent = True
                failures += 1
                if self.retry_timeouts and failures <= self.max_retries:
                    self._back_off(failures, result)
                    continue
                reason = (
                    f"timed out after {self.timeout:g} s"
                    if isinstance(exc, TimeoutError)
                    else self._redact(str(exc) or type(exc).__name__)
                )
                return _Answer(
                    "gave_up",
                    error=f"no answer from SendGrid after {attempts} attempts (last: {reason}); "
                    "the request may have been accepted",
                    unknown=True,
                )
            if response.status_code == 200:
                result.sandbox = True
            return _Answer("accepted", message_id=response.headers.get("X-Message-Id"))

    def _back_off(self, failures: int, result: BatchResult) -> None:
        result.retries += 1
        self._sleep(min(self.backoff_seconds * 2 ** (failures - 1), _MAX_BACKOFF))

    def _describe(self, error: Mapping[str, Any], group: list[int]) -> str:
        """SendGrid's message and field, the field's personalization index renumbered to the caller's."""
        message = self._redact(str(error.get("message") or "no message"))
        where = error.get("field")
        if not isinstance(where, str) or not where:
            return f"SendGrid 400: {message}"
        match = _PERSONALIZATION_FIELD.match(where)
        if match and int(match[1]) < len(group):
            where = f"personalizations.{group[int(match[1])]}{where[match.end() :]}"
        return f"SendGrid 400 on {where}: {message}"

    def _error_text(self, body: bytes | str | None) -> str:
        """SendGrid's own messages (``errors[].message``), else the start of the body."""
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        messages = [str(error.get("message")) for error in _errors(raw) if error.get("message")]
        text = "; ".join(messages) if messages else " ".join(raw.split())
        return self._redact(text[:_ERROR_TEXT_LIMIT]) or "no body"

    def _redact(self, text: str) -> str:
        return text.replace(self._key.get_secret_value(), "**********")


def _personalizations(message: Mapping[str, Any], limit: int) -> list[Any]:
    if not isinstance(message, Mapping):
        raise ValueError(f"a mail/send body must be a dict, got {type(message).__name__}")
    personalizations = message.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise ValueError("a mail/send body needs a non-empty list of personalizations")
    if len(personalizations) > limit:
        raise ValueError(
            f"a mail/send body holds at most {limit} personalizations, got {len(personalizations)}; "
            "split the batch"
        )
    return personalizations


def _errors(body: bytes | str | None) -> list[dict[str, Any]]:
    """The ``errors`` list of a SendGrid error body; empty when the body is not one."""
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        return []
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(errors, list):
        return []
    return [error for error in errors if isinstance(error, dict)]


def _personalization_position(where: Any, size: int) -> int | None:
    if not isinstance(where, str):
        return None
    match = _PERSONALIZATION_FIELD.match(where)
    if match is None or int(match[1]) >= size:
        return None
    return int(match[1])


def _rate_limit_wait(headers: Any) -> float:
    """Seconds until ``X-RateLimit-Reset`` (unix seconds) or per ``Retry-After``, whichever is longer."""
    now = time.time()
    waits = [_MIN_RATE_LIMIT_WAIT]
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is not None and _is_number(reset):
        waits.append(float(reset) - now)
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None and _is_number(retry_after):
        waits.append(float(retry_after))
    elif retry_after is not None:
        with contextlib.suppress(TypeError, ValueError):
            waits.append(parsedate_to_datetime(retry_after).timestamp() - now)
    return max(waits)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"SendGrid base URL must be http(s)://host, got {base_url!r}")
    if parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"SendGrid base URL must be scheme and host only (the client appends /v3/mail/send), "
            f"got {base_url!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _silence_library_logger() -> None:
    logger = logging.getLogger(_LIBRARY_LOGGER)
    if not any(isinstance(existing, _DropWireDumps) for existing in logger.filters):
        logger.addFilter(_DropWireDumps())
