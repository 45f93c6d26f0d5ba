"""A loopback fake of the Typeform Create and Responses APIs: one form's definition and its responses.

It speaks the documented wire format: ``Authorization: Bearer <token>`` with the scopes ``forms:read``
and ``responses:read``; ``GET /forms/{form_id}`` and ``GET /forms/{form_id}/responses`` answering
``{"total_items", "page_count", "items"}`` with items carrying ``landing_id``, ``token``,
``response_id``, ``landed_at``, ``submitted_at``, ``metadata``, ``hidden``, ``calculated``,
``variables`` and ``answers`` (``{"field": {"id", "type", "ref"}, "type", <type>: value}``). Errors
are Typeform's ``{"code", "description"}`` objects.

Parameters: ``page_size`` (default 25, 1 to 1000, else a 400), ``since``/``until`` (inclusive, on
``submitted_at``; unix seconds or ``YYYY-MM-DDTHH:MM:SS`` UTC), ``before``/``after`` (a response token,
exclusive; not with ``sort``), ``completed`` (``true``/``false``; completed only when absent) and
``sort`` (``submitted_at,desc`` by default, or ``submitted_at,asc``). Responses are kept in the order
they were processed, which is the order of ``submitted_at``; pages run newest first.

Faults are queued with ``inject`` and hit the next matching requests in order: ``rate_limit`` (429
with ``Retry-After``), ``server_error`` (500 JSON or 503 HTML), ``malformed`` (a 200 whose body is cut
off, or a given body), ``slow``. ``stuck_token = True`` ignores ``before``/``after``, so every page is
the first one again.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeApi, Reply, Request

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
ALL_SCOPES = frozenset({"forms:read", "responses:read"})
EPOCH = datetime(2025, 3, 1, tzinfo=UTC)
_SINCE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_FORM_PATH = re.compile(r"/forms/(?P<form_id>[^/]+)(?P<responses>/responses)?")


def typeform_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(code: str, description: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "description": description}
    if details:
        body["details"] = details
    return body


def question(field_id: str, ref: str, field_type: str, title: str, **properties: Any) -> dict[str, Any]:
    """One question of a form definition."""
    return {
        "id": field_id,
        "title": title,
        "ref": ref,
        "type": field_type,
        "properties": properties,
        "validations": {"required": False},
    }


def group(field_id: str, ref: str, title: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": field_id,
        "title": title,
        "ref": ref,
        "type": "group",
        "properties": {"button_text": "Continue", "show_button": True, "fields": list(fields)},
    }


def form(
    form_id: str, *fields: dict[str, Any], title: str = "", hidden: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A form definition as ``GET /forms/{form_id}`` returns it."""
    return {
        "id": form_id,
        "type": "form",
        "title": title or f"Form {form_id}",
        "workspace": {"href": "https://api.typeform.com/workspaces/Aw33bz"},
        "theme": {"href": "https://api.typeform.com/themes/qHWOQ7"},
        "settings": {"language": "ko", "is_public": True, "progress_bar": "proportion"},
        "hidden": list(hidden),
        "fields": list(fields),
        "_links": {"display": f"https://dripline.typeform.com/to/{form_id}"},
    }


def answer(field_id: str, ref: str, field_type: str, kind: str, value: Any) -> dict[str, Any]:
    """One answer: ``field_type`` is the question's type, ``kind`` the answer's value type."""
    return {"field": {"id": field_id, "type": field_type, "ref": ref}, "type": kind, kind: value}


def response(
    token: str,
    *answers: dict[str, Any],
    submitted: datetime | None = None,
    hidden: dict[str, Any] | None = None,
    completed: bool = True,
) -> dict[str, Any]:
    """One response item; a partial one (``completed=False``) has landed but not been submitted."""
    landed = (submitted or EPOCH) - timedelta(minutes=3)
    item: dict[str, Any] = {
        "landing_id": token,
        "token": token,
        "response_id": token,
        "landed_at": typeform_time(landed),
        "submitted_at": typeform_time(submitted or EPOCH),
        "metadata": {
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
            "platform": "mobile",
            "referer": "https://dripline.typeform.com/to/abc123",
            "network_id": "4d2a1c9f3b",
            "browser": "default",
        },
        "hidden": hidden or {},
        "calculated": {"score": 0},
        "variables": [],
        "answers": list(answers),
    }
    if not completed:
        item["submitted_at"] = None
    return item


@dataclass
class _Stored:
    serial: int
    item: dict[str, Any]

    @property
    def completed(self) -> bool:
        return self.item.get("submitted_at") is not None

    @property
    def moment(self) -> datetime:
        return _parse_wire_time(self.item["submitted_at"] or self.item["landed_at"])


class FakeTypeform(FakeApi):
    """In-memory forms and responses behind the Typeform endpoints."""

    def __init__(self, token: str = "fake-typeform-token") -> None:
        super().__init__()
        self.tokens: dict[str, frozenset[str]] = {token: ALL_SCOPES}
        self.forms: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[_Stored]] = {}
        self.stuck_token = False
        self._serial = 0

    def add_token(self, token: str, scopes: frozenset[str] | set[str]) -> None:
        with self._lock:
            self.tokens[token] = frozenset(scopes)

    def add_form(self, definition: dict[str, Any]) -> None:
        with self._lock:
            self.forms[definition["id"]] = definition
            self.responses.setdefault(definition["id"], [])

    def add_responses(self, form_id: str, *items: dict[str, Any]) -> None:
        """Record responses as processed, in the order given."""
        with self._lock:
            for item in items:
                self._serial += 1
                self.responses[form_id].append(_Stored(self._serial, item))

    def __call__(self, request: Request) -> Reply:
        match = _FORM_PATH.fullmatch(request.path)
        if match is None:
            return Reply(404, error_body("NOT_FOUND", f"Endpoint {request.path} not found"))
        authorization = request.header("authorization") or ""
        if not authorization.startswith("Bearer "):
            return Reply(
                401,
                error_body(
                    "AUTHENTICATION_FAILED", "Authentication credentials not found on the Request Headers"
                ),
            )
        scopes = self.tokens.get(authorization.removeprefix("Bearer "))
        if scopes is None:
            return Reply(403, error_body("INVALID_AUTHORIZATION", "The authorization token is not valid"))
        needed = "responses:read" if match["responses"] else "forms:read"
        if needed not in scopes:
            return Reply(
                403, error_body("AUTHENTICATION_ERROR", f"The token does not have the scope {needed}")
            )
        form_id = match["form_id"]
        if form_id not in self.forms:
            return Reply(404, error_body("FORM_NOT_FOUND", f"Non existing form with uid {form_id}"))
        fault = self.faults.take()
        if fault is not None and fault.kind == "unauthorized":
            return Reply(401, error_body("AUTHENTICATION_FAILED", "Authentication credentials are not valid"))
        if fault is not None and fault.kind == "rate_limit":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return Reply(429, error_body("TOO_MANY_REQUESTS", "Rate limit exceeded"), headers)
        if fault is not None and fault.kind == "server_error":
            if fault.status == 503:
                html = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
                return Reply(503, html, {"Content-Type": "text/html"})
            return Reply(fault.status, error_body("INTERNAL_SERVER_ERROR", "Internal server error"))
        if fault is not None and fault.kind == "malformed":
            body = (
                fault.body if fault.body is not None else b'{"total_items": 9, "page_count": 3, "items": [{"'
            )
            return Reply(200, body)
        if match["responses"]:
            reply = self._responses(form_id, request.query)
        else:
            reply = Reply(200, self.forms[form_id])
        if fault is not None and fault.kind == "slow":
            reply.delay = fault.delay
        return reply

    def _responses(self, form_id: str, query: dict[str, str]) -> Reply:
        try:
            page_size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            return _invalid("page_size", "should be integer")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return _invalid(
                "page_size", f"should be <= {MAX_PAGE_SIZE}" if page_size > 0 else "should be >= 1"
            )
        bounds = {}
        for name in ("since", "until"):
            if name in query:
                try:
                    bounds[name] = _parse_bound(query[name])
                except ValueError:
                    return _invalid(name, "should match format date-time or be a unix timestamp")
        completed = query.get("completed", "true")
        if completed not in ("true", "false"):
            return _invalid("completed", "should be boolean")
        sort = query.get("sort")
        tokens = {name: query[name] for name in ("before", "after") if name in query}
        if sort is not None and tokens:
            return _invalid("sort", "cannot be used together with before or after")
        if sort not in (None, "submitted_at,desc", "submitted_at,asc"):
            return _invalid("sort", "should be one of submitted_at,desc or submitted_at,asc")

        with self._lock:
            stored = list(self.responses[form_id])
        stored.sort(key=lambda row: (row.moment, row.serial))
        rows = [row for row in stored if row.completed == (completed == "true")]
        if "since" in bounds:
            rows = [row for row in rows if row.moment >= bounds["since"]]
        if "until" in bounds:
            rows = [row for row in rows if row.moment <= bounds["until"]]
        if tokens and not self.stuck_token:
            positions = {row.item["token"]: index for index, row in enumerate(rows)}
            for name, token in tokens.items():
                if token not in positions:
                    return _invalid(name, f"response token {token} not found")
            low = positions[tokens["after"]] + 1 if "after" in tokens else 0
            high = positions[tokens["before"]] if "before" in tokens else len(rows)
            rows = rows[low:high]
        if sort != "submitted_at,asc":
            rows.reverse()
        items = [row.item for row in rows[:page_size]]
        return Reply(
            200,
            {"total_items": len(rows), "page_count": math.ceil(len(rows) / page_size), "items": items},
        )


def _invalid(parameter: str, problem: str) -> Reply:
    return Reply(
        400,
        error_body(
            "VALIDATION_ERROR",
            "The payload is invalid.",
            [{"code": "INVALID_VALUE", "description": problem, "field": parameter, "in": "query"}],
        ),
    )


def _parse_bound(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC)
    if not _SINCE_FORMAT.fullmatch(value):
        raise ValueError(value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _parse_wire_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
