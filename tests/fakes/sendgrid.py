"""A loopback fake of SendGrid v3 Mail Send (``POST /v3/mail/send``) and of the suppression lists' reads, in
process or in its own process.

It speaks the documented wire format: ``Authorization: Bearer <key>`` (no or an unknown key: 401
``authorization required``; a key without the ``mail.send`` scope: 403 ``access forbidden``); a JSON body
validated the way SendGrid validates it, every problem reported at once as
``{"errors": [{"message", "field", "help"}]}`` with a 400, ``field`` naming the path
(``personalizations.3.to.0.email``); 202 with an empty body and a unique ``X-Message-Id`` header; 200
when ``mail_settings.sandbox_mode.enable`` is true (nothing delivered).

Validation: ``personalizations`` 1 to 1000, each with a non-empty ``to``, at most 1000 recipients
(to + cc + bcc) in all, an address at most once across them; addresses well formed and not marked
invalid with ``reject_addresses``; ``from.email`` required; ``subject`` (message level, or on every
personalization) and ``content`` unless there is a ``template_id``; ``custom_args`` (both levels),
``substitutions`` and ``headers`` values strings; ``categories`` at most 10, unique, each at most 255
characters; ``asm.group_id`` an integer; ``reply_to.email`` well formed; ``sandbox_mode.enable`` a
boolean. A body larger than ``max_body_bytes`` gets 413 ``content too large``.

Faults are queued with ``inject`` and hit the next requests that pass authentication, in order:
``rate_limit`` (429 with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset`` a
second or so ahead, ``Retry-After`` when given, and ``too many requests``), ``server_error`` (500 or
``status=503`` with an error body), ``too_large`` (413), ``unauthorized`` (401),
``slow_then_accept`` (the request is processed and, when valid, recorded as accepted at once; the answer
comes ``delay`` seconds later: SendGrid accepted it but a client that timed out never heard so) and
``slow_then_fail`` (nothing is recorded; 503 after ``delay`` seconds) and ``malformed`` (200 with
``body``, by default cut-off JSON).

Suppression lists (reads need a key with the ``suppression.read`` scope, which the default key has; else
403): ``GET /v3/suppression/{bounces,blocks,spam_reports,invalid_emails,unsubscribes}`` answer a JSON array
of ``{created, email, ...}`` (unix seconds; bounces and blocks with ``reason`` and ``status``, spam reports
with ``ip``, invalid emails with ``reason``), newest first, filtered by ``start_time``/``end_time`` (unix
seconds, inclusive) and paged by ``offset`` and ``limit`` (default and most 500; above that 400);
``GET /v3/asm/suppressions`` answers every group unsubscribe, ``{email, group_id, group_name, created_at}``.
``suppress``/``unsuppress`` and ``suppress_in_group``/``unsuppress_in_group`` change them. Faults hit these
reads like mail/send.

Accepted messages are kept in ``messages``; ``accepted_recipients()`` lists one dict per recipient, in
the order accepted, with what SendGrid would send them: subject, template data, substitutions, the
merged ``custom_args`` and ``headers`` (the personalization's value wins), categories, asm, reply_to and
the message id.

Standalone, for benchmarks and kill tests::

    python -m tests.fakes.sendgrid --port 0 --api-key KEY --record FILE

prints its URL on the first line of stdout and appends one JSON line per accepted recipient to FILE,
written and flushed before the request is answered, so the file says exactly what was accepted even if
the sender is killed. It keeps nothing in memory and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from tests.fakes.server import FakeApi, Fault, Reply, Request

MAIL_SEND_PATH = "/v3/mail/send"
MAIL_SEND_SCOPE = "mail.send"
SUPPRESSION_READ_SCOPE = "suppression.read"
SUPPRESSION_LISTS = ("bounces", "blocks", "spam_reports", "invalid_emails", "unsubscribes")
SUPPRESSION_PREFIX = "/v3/suppression/"
GROUP_SUPPRESSIONS_PATH = "/v3/asm/suppressions"
MAX_SUPPRESSION_LIMIT = 500
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_GROUPS_TO_DISPLAY = 25
HELP_URL = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
RECIPIENT_KINDS = ("to", "cc", "bcc")
RATE_LIMIT = 600
_EMAIL = re.compile(r"[^@\s\"<>,;]+@[^@\s\"<>,;.]+(?:\.[^@\s\"<>,;.]+)+")
_INDEX = re.compile(r"\.\d+")


def error_body(*errors: tuple[str | None, str]) -> dict[str, Any]:
    """SendGrid's error body: one ``{"message", "field", "help"}`` per ``(field, message)``."""
    return {
        "errors": [
            {
                "message": message,
                "field": where,
                "help": None if where is None else f"{HELP_URL}#message.{_INDEX.sub('', where)}",
            }
            for where, message in errors
        ]
    }


def message_id() -> str:
    """An ``X-Message-Id``: 22 characters of base64url, unique per accepted request."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass(frozen=True)
class AcceptedMessage:
    """One request SendGrid accepted: its ``X-Message-Id``, its parsed body, whether it was a sandbox."""

    message_id: str
    body: dict[str, Any]
    sandbox: bool

    def recipients(self) -> list[dict[str, Any]]:
        """One dict per recipient, in order, with what SendGrid would apply to that recipient."""
        body = self.body
        rows = []
        for position, person in enumerate(body["personalizations"]):
            common = {
                "message_id": self.message_id,
                "sandbox": self.sandbox,
                "personalization": position,
                "from": body.get("from"),
                "subject": person.get("subject", body.get("subject")),
                "template_id": body.get("template_id"),
                "dynamic_template_data": person.get("dynamic_template_data"),
                "substitutions": person.get("substitutions"),
                "custom_args": {**body.get("custom_args", {}), **person.get("custom_args", {})},
                "headers": {**body.get("headers", {}), **person.get("headers", {})},
                "categories": body.get("categories"),
                "asm": body.get("asm"),
                "reply_to": body.get("reply_to"),
                "send_at": person.get("send_at", body.get("send_at")),
            }
            for kind in RECIPIENT_KINDS:
                for address in person.get(kind, []):
                    rows.append(
                        {"email": address["email"], "name": address.get("name"), "kind": kind, **common}
                    )
        return rows


class FakeSendGrid(FakeApi):
    """In-memory SendGrid mail/send: keys, invalid addresses, queued faults and what was accepted."""

    fault_defaults: ClassVar[dict[str, Any]] = {"retry_after": None}

    def __init__(
        self,
        api_key: str = "SG.fake-key",
        *,
        max_body_bytes: int | None = None,
        record_path: Path | None = None,
        latency: float = 0.0,
        keep_messages: bool = True,
        port: int = 0,
    ) -> None:
        super().__init__(port=port, record_requests=keep_messages)
        self.keys: dict[str, frozenset[str]] = {api_key: frozenset({MAIL_SEND_SCOPE, SUPPRESSION_READ_SCOPE})}
        self.suppressions: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SUPPRESSION_LISTS}
        self.group_suppressions: dict[tuple[int, str], dict[str, Any]] = {}
        self.invalid_addresses: set[str] = set()
        self.max_body_bytes = max_body_bytes
        self.latency = latency
        self.keep_messages = keep_messages
        self.messages: list[AcceptedMessage] = []
        self.accepted_count = 0
        self._record: IO[str] | None = None
        if record_path is not None:
            self._record = Path(record_path).open("a", encoding="utf-8")  # noqa: SIM115  closed by close()

    def close(self) -> None:
        if self._record is not None:
            self._record.close()
            self._record = None

    def bodies(self) -> list[Any]:
        """The JSON body of every request received, in order (``None`` for one that did not parse)."""
        parsed = []
        for request in self.requests:
            try:
                parsed.append(json.loads(request.body))
            except ValueError:
                parsed.append(None)
        return parsed

    def add_key(self, key: str, scopes: Sequence[str] = (MAIL_SEND_SCOPE,)) -> None:
        """Another API key; one without ``mail.send`` gets 403 on mail/send."""
        with self._lock:
            self.keys[key] = frozenset(scopes)

    def suppress(self, name: str, email: str, created: int, **fields: Any) -> None:
        """List ``email`` on the suppression list ``name`` (``bounces``, ...) as listed at ``created``."""
        with self._lock:
            self.suppressions[name][email.lower()] = {"created": created, "email": email, **fields}

    def unsuppress(self, name: str, email: str) -> None:
        """Take ``email`` off the list ``name``, as an operator does in SendGrid's UI."""
        with self._lock:
            del self.suppressions[name][email.lower()]

    def suppress_in_group(
        self, group_id: int, email: str, created_at: int, group_name: str = "Newsletter"
    ) -> None:
        with self._lock:
            self.group_suppressions[(group_id, email.lower())] = {
                "email": email,
                "group_id": group_id,
                "group_name": group_name,
                "created_at": created_at,
            }

    def unsuppress_in_group(self, group_id: int, email: str) -> None:
        with self._lock:
            del self.group_suppressions[(group_id, email.lower())]

    def reject_addresses(self, *emails: str) -> None:
        """Addresses SendGrid answers ``Does not contain a valid address.`` for, wherever they appear."""
        with self._lock:
            self.invalid_addresses.update(email.lower() for email in emails)

    def accepted(self, *, sandbox: bool = False) -> list[AcceptedMessage]:
        """Accepted messages in order: delivered ones, or with ``sandbox=True`` the sandbox ones."""
        with self._lock:
            return [message for message in self.messages if message.sandbox == sandbox]

    def accepted_recipients(self, *, sandbox: bool = False) -> list[dict[str, Any]]:
        return [row for message in self.accepted(sandbox=sandbox) for row in message.recipients()]

    def accepted_emails(self, *, sandbox: bool = False) -> list[str]:
        return [row["email"] for row in self.accepted_recipients(sandbox=sandbox)]

    def __call__(self, request: Request) -> Reply:
        reads = request.path == GROUP_SUPPRESSIONS_PATH or (
            request.path.startswith(SUPPRESSION_PREFIX)
            and request.path.removeprefix(SUPPRESSION_PREFIX) in SUPPRESSION_LISTS
        )
        if request.path != MAIL_SEND_PATH and not reads:
            return Reply(404, error_body((None, "not found")))
        if request.method != ("GET" if reads else "POST"):
            return Reply(405, error_body((None, "method not allowed")))
        authorization = request.header("authorization") or ""
        scopes = (
            self.keys.get(authorization.removeprefix("Bearer "))
            if authorization.startswith("Bearer ")
            else None
        )
        if scopes is None:
            return Reply(401, error_body((None, "authorization required")))
        if (SUPPRESSION_READ_SCOPE if reads else MAIL_SEND_SCOPE) not in scopes:
            return Reply(403, error_body((None, "access forbidden")))
        fault = self.faults.take()
        if fault is not None:
            reply = self._fault_reply(fault)
            if reply is not None:
                return reply
        if reads:
            return self._suppressions(request)
        reply = self._mail_send(request.body)
        if fault is not None and fault.kind == "slow_then_accept":
            reply.delay = fault.delay
        elif reply.status in (200, 202):
            reply.delay = self.latency
        return reply

    def _fault_reply(self, fault: Fault) -> Reply | None:
        if fault.kind == "rate_limit":
            headers = {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(time.time() + fault.reset_in)),
            }
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return Reply(429, error_body((None, "too many requests")), headers)
        if fault.kind == "server_error":
            message = "service unavailable" if fault.status == 503 else "internal server error"
            return Reply(fault.status, error_body((None, message)))
        if fault.kind == "too_large":
            return Reply(413, error_body((None, "content too large")))
        if fault.kind == "unauthorized":
            return Reply(401, error_body((None, "authorization required")))
        if fault.kind == "slow_then_fail":
            return Reply(503, error_body((None, "service unavailable")), delay=fault.delay)
        if fault.kind == "slow_then_accept":
            return None
        if fault.kind == "malformed":
            return Reply(200, fault.body or b"[")
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _suppressions(self, request: Request) -> Reply:
        with self._lock:
            if request.path == GROUP_SUPPRESSIONS_PATH:
                return Reply(200, sorted(self.group_suppressions.values(), key=lambda e: -e["created_at"]))
            entries = list(self.suppressions[request.path.removeprefix(SUPPRESSION_PREFIX)].values())
        try:
            limit = int(request.query.get("limit", MAX_SUPPRESSION_LIMIT))
            offset = int(request.query.get("offset", 0))
            start = int(request.query.get("start_time", 0))
            end = int(request.query["end_time"]) if "end_time" in request.query else None
        except ValueError:
            return Reply(400, error_body((None, "invalid query parameter")))
        if not 1 <= limit <= MAX_SUPPRESSION_LIMIT:
            return Reply(400, error_body(("limit", f"limit must be between 1 and {MAX_SUPPRESSION_LIMIT}")))
        chosen = [e for e in entries if e["created"] >= start and (end is None or e["created"] <= end)]
        chosen.sort(key=lambda e: (-e["created"], e["email"]))
        return Reply(200, chosen[offset : offset + limit])

    def _mail_send(self, raw: bytes) -> Reply:
        if self.max_body_bytes is not None and len(raw) > self.max_body_bytes:
            return Reply(413, error_body((None, "content too large")))
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, error_body((None, "Bad Request")))
        with self._lock:
            invalid = set(self.invalid_addresses)
        problems = validate(body, invalid)
        if problems:
            return Reply(400, error_body(*problems))
        sandbox = body.get("mail_settings", {}).get("sandbox_mode", {}).get("enable") is True
        accepted = AcceptedMessage(message_id(), body, sandbox)
        with self._lock:
            if self.keep_messages:
                self.messages.append(accepted)
            self.accepted_count += sum(
                len(person.get(kind, [])) for person in body["personalizations"] for kind in RECIPIENT_KINDS
            )
            if self._record is not None:
                self._record.write(
                    "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in accepted.recipients())
                )
                self._record.flush()
        if sandbox:
            return Reply(200, b"")
        return Reply(202, b"", {"X-Message-Id": accepted.message_id})


Problem = tuple[str | None, str]

NO_PERSONALIZATIONS = "The personalizations field is required and must have at least one personalization."
NO_TO = (
    "The to array is required for all personalization objects, and must have at least one email object "
    "with a valid email address."
)
INVALID_ADDRESS = "Does not contain a valid address."
DUPLICATE_ADDRESS = "Each unique email address in the personalizations array should only be included once."
NO_FROM = (
    "The from object must be provided for every email send. It is an object that requires the email "
    "parameter, but may also contain a name parameter."
)
INVALID_FROM = "The from email does not contain a valid address."
NO_SUBJECT = (
    "The subject is required. You can get around this requirement if you use a template with a subject "
    "defined or if every personalization has a subject defined."
)
NO_CONTENT = (
    "Unless a valid template_id is provided, the content parameter is required. There must be at least "
    "one defined content block."
)
EMPTY_CONTENT = "The content value must be a string at least one character in length."
TOO_MANY_CATEGORIES = f"Too many categories. Please use no more than {MAX_CATEGORIES} categories per email."
INVALID_GROUP_ID = "The asm.group_id must be an integer."
INVALID_REPLY_TO = "The reply_to email does not contain a valid address."


def validate(body: Any, invalid_addresses: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem SendGrid reports for a mail/send body, as ``(field, message)`` pairs."""
    if not isinstance(body, dict):
        return [(None, "Bad Request")]
    problems: list[Problem] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(("personalizations", NO_PERSONALIZATIONS))
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        problems.append(
            (
                "personalizations",
                f"The personalizations field cannot have more than {MAX_PERSONALIZATIONS} items.",
            )
        )
    seen: set[str] = set()
    recipients = 0
    for position, person in enumerate(personalizations):
        where = f"personalizations.{position}"
        if not isinstance(person, dict):
            problems.append(_wrong_type(where, "object", person))
            continue
        if not isinstance(person.get("to"), list) or not person["to"]:
            problems.append((f"{where}.to", NO_TO))
        for kind in RECIPIENT_KINDS:
            addresses = person.get(kind, [])
            if not isinstance(addresses, list):
                problems.append(_wrong_type(f"{where}.{kind}", "array", addresses))
                continue
            for slot, address in enumerate(addresses):
                recipients += 1
                email = address.get("email") if isinstance(address, dict) else None
                if not _is_address(email) or email.lower() in invalid_addresses:
                    problems.append((f"{where}.{kind}.{slot}.email", INVALID_ADDRESS))
                elif email.lower() in seen:
                    problems.append((f"{where}.{kind}.{slot}.email", DUPLICATE_ADDRESS))
                else:
                    seen.add(email.lower())
        problems += _typed(person, where, subject=str, dynamic_template_data=dict, send_at=int)
        for name in ("custom_args", "substitutions", "headers"):
            problems += _string_map(person.get(name), f"{where}.{name}")
    if recipients > MAX_RECIPIENTS:
        problems.append(
            ("personalizations", f"The total number of recipients must be {MAX_RECIPIENTS} or fewer.")
        )
    problems += _sender(body.get("from"))
    if body.get("template_id") is None:
        problems += _subject_and_content(body, personalizations)
    problems += _typed(body, None, template_id=str, subject=str, send_at=int)
    problems += _string_map(body.get("custom_args"), "custom_args")
    problems += _string_map(body.get("headers"), "headers")
    problems += _categories(body.get("categories"))
    problems += _asm(body.get("asm"))
    reply_to = body.get("reply_to")
    if reply_to is not None and not (isinstance(reply_to, dict) and _is_address(reply_to.get("email"))):
        problems.append(("reply_to.email", INVALID_REPLY_TO))
    settings = body.get("mail_settings")
    sandbox = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    if isinstance(sandbox, dict) and "enable" in sandbox and not isinstance(sandbox["enable"], bool):
        problems.append(_wrong_type("mail_settings.sandbox_mode.enable", "boolean", sandbox["enable"]))
    return problems


def _sender(sender: Any) -> list[Problem]:
    if not isinstance(sender, dict) or not sender.get("email"):
        return [("from.email", NO_FROM)]
    if not _is_address(sender["email"]):
        return [("from.email", INVALID_FROM)]
    return []


def _subject_and_content(body: dict[str, Any], personalizations: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    every_subject = bool(personalizations) and all(
        isinstance(person, dict) and isinstance(person.get("subject"), str) and person["subject"]
        for person in personalizations
    )
    subject = body.get("subject")
    if not (isinstance(subject, str) and subject) and not every_subject:
        problems.append(("subject", NO_SUBJECT))
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return [*problems, ("content", NO_CONTENT)]
    for slot, block in enumerate(content):
        for part in ("type", "value"):
            value = block.get(part) if isinstance(block, dict) else None
            if not isinstance(value, str) or not value:
                problems.append((f"content.{slot}.{part}", EMPTY_CONTENT.replace("value", part)))
    return problems


def _typed(holder: dict[str, Any], where: str | None, **expected: type) -> list[Problem]:
    """Fields present with the wrong JSON type (``int`` means an integer, never a boolean)."""
    problems = []
    for name, kind in expected.items():
        value = holder.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            path = name if where is None else f"{where}.{name}"
            problems.append(_wrong_type(path, _JSON_NAMES[kind], value))
    return problems


def _string_map(value: Any, path: str) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [_wrong_type(path, "object", value)]
    for item in value.values():
        if not isinstance(item, str):
            return [_wrong_type(path, "string", item)]
    return []


def _categories(categories: Any) -> list[Problem]:
    if categories is None:
        return []
    if not isinstance(categories, list):
        return [_wrong_type("categories", "array", categories)]
    problems: list[Problem] = []
    if len(categories) > MAX_CATEGORIES:
        problems.append(("categories", TOO_MANY_CATEGORIES))
    for slot, category in enumerate(categories):
        if not isinstance(category, str):
            problems.append(_wrong_type(f"categories.{slot}", "string", category))
        elif len(category) > MAX_CATEGORY_LENGTH:
            problems.append(
                (f"categories.{slot}", f"A category cannot have more than {MAX_CATEGORY_LENGTH} characters.")
            )
    if len({json.dumps(category) for category in categories}) != len(categories):
        problems.append(("categories", "The categories must be unique."))
    return problems


def _asm(asm: Any) -> list[Problem]:
    if asm is None:
        return []
    if not isinstance(asm, dict):
        return [_wrong_type("asm", "object", asm)]
    group_id = asm.get("group_id")
    if not isinstance(group_id, int) or isinstance(group_id, bool):
        return [("asm.group_id", INVALID_GROUP_ID)]
    shown = asm.get("groups_to_display", [])
    if not isinstance(shown, list) or any(
        not isinstance(item, int) or isinstance(item, bool) for item in shown
    ):
        return [("asm.groups_to_display", "The asm.groups_to_display must be an array of integers.")]
    if len(shown) > MAX_GROUPS_TO_DISPLAY:
        return [
            (
                "asm.groups_to_display",
                f"The asm.groups_to_display cannot have more than {MAX_GROUPS_TO_DISPLAY} items.",
            )
        ]
    return []


def _wrong_type(path: str, expected: str, value: Any) -> Problem:
    return (path, f"Invalid type. Expected: {expected}, given: {_json_type(value)}.")


_JSON_NAMES = {str: "string", int: "integer", dict: "object", list: "array", bool: "boolean"}


def _is_address(email: Any) -> bool:
    return isinstance(email, str) and _EMAIL.fullmatch(email) is not None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A loopback fake of SendGrid v3 mail/send.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default="SG.fake-key", help="the one API key accepted")
    parser.add_argument("--record", type=Path, help="append one JSON line per accepted recipient here")
    parser.add_argument("--max-body-bytes", type=int, help="answer 413 to larger bodies")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before answering an accepted request"
    )
    parser.add_argument("--reject", action="append", default=[], help="an address to report as invalid")
    options = parser.parse_args(argv)

    fake = FakeSendGrid(
        options.api_key,
        max_body_bytes=options.max_body_bytes,
        record_path=options.record,
        latency=options.latency,
        keep_messages=False,
        port=options.port,
    )
    fake.reject_addresses(*options.reject)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    fake.server.start()
    print(fake.url, flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        fake.server.stop()
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
