"""A loopback fake of Pipedrive API v2 list endpoints (persons, organizations, deals).

It speaks the documented wire format: the ``x-api-token`` header, the envelope
``{"success": true, "data": [...], "additional_data": {"next_cursor": ...}}`` with ``null`` on the last
page, ``limit`` (default 100, max 500), ``cursor``, ``updated_since`` (inclusive, RFC 3339),
``sort_by``/``sort_direction`` and, for deals, ``status`` (deleted deals only with ``status=deleted``).
Every answer carries ``x-ratelimit-*`` headers.

Faults are queued with ``inject`` and hit the next matching requests in order: ``rate_limit`` (429 with
``Retry-After``), ``server_error`` (500 JSON or 503 HTML), ``slow`` (the answer is held back),
``malformed`` (a 200 whose body is cut off, or a given body), ``empty_page`` (a page with no records
whose cursor still moves on). ``stuck_cursor = True`` makes every cursor page hand back its own cursor.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import RecordStoreFake, Reply, Request

ENTITIES = ("persons", "organizations", "deals")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
RATE_LIMIT_WINDOW = 80
ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def pipedrive_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(message: str, code: int) -> dict[str, Any]:
    return {
        "success": False,
        "error": message,
        "errorCode": code,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def person(
    person_id: int,
    *,
    updated: datetime | None = None,
    name: str | None = None,
    email: str | None = None,
    org_id: int | None = None,
    birthday: str | None = None,
) -> dict[str, Any]:
    updated = updated or EPOCH + timedelta(minutes=person_id)
    name = name or f"Person {person_id}"
    first, _, last = name.partition(" ")
    return {
        "id": person_id,
        "name": name,
        "first_name": first,
        "last_name": last,
        "owner_id": 1,
        "org_id": org_id,
        "add_time": pipedrive_time(EPOCH),
        "update_time": pipedrive_time(updated),
        "is_deleted": False,
        "visible_to": 3,
        "label_ids": [],
        "picture_id": None,
        "emails": [{"value": email or f"person{person_id}@example.com", "primary": True, "label": "work"}],
        "phones": [{"value": f"+82 10-5555-{person_id:04d}", "primary": True, "label": "mobile"}],
        "birthday": birthday,
        "custom_fields": {"a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0": "newsletter"},
    }


def organization(org_id: int, *, updated: datetime | None = None, name: str | None = None) -> dict[str, Any]:
    updated = updated or EPOCH + timedelta(minutes=org_id)
    return {
        "id": org_id,
        "name": name or f"Organization {org_id}",
        "owner_id": 1,
        "add_time": pipedrive_time(EPOCH),
        "update_time": pipedrive_time(updated),
        "is_deleted": False,
        "visible_to": 3,
        "address": {"value": "Seoul", "country": "South Korea"},
        "label_ids": [],
        "custom_fields": {},
    }


def deal(
    deal_id: int,
    *,
    updated: datetime | None = None,
    status: str = "open",
    value: float = 1000.0,
    person_id: int | None = None,
    org_id: int | None = None,
    is_deleted: bool = False,
) -> dict[str, Any]:
    updated = updated or EPOCH + timedelta(minutes=deal_id)
    return {
        "id": deal_id,
        "title": f"Deal {deal_id}",
        "owner_id": 1,
        "person_id": person_id,
        "org_id": org_id,
        "pipeline_id": 1,
        "stage_id": 1,
        "value": value,
        "currency": "KRW",
        "add_time": pipedrive_time(EPOCH),
        "update_time": pipedrive_time(updated),
        "stage_change_time": None,
        "is_archived": False,
        "is_deleted": is_deleted,
        "status": status,
        "probability": None,
        "lost_reason": None,
        "visible_to": 3,
        "close_time": None,
        "won_time": pipedrive_time(updated) if status == "won" else None,
        "lost_time": None,
        "expected_close_date": None,
        "label_ids": [],
        "custom_fields": {},
    }


class FakePipedrive(RecordStoreFake):
    """In-memory persons, organizations and deals behind the v2 list endpoints."""

    entities = ENTITIES

    def __init__(self, token: str = "fake-pipedrive-token") -> None:
        super().__init__(token)
        self.stuck_cursor = False

    def __call__(self, request: Request) -> Reply:
        entity = request.path.removeprefix("/api/v2/")
        if not request.path.startswith("/api/v2/") or entity not in ENTITIES:
            return self._reply(404, error_body(f"Unknown method {request.path}", 404))
        if request.header("x-api-token") != self.token:
            return self._reply(401, error_body("unauthorized access", 401))
        fault = self.faults.take()
        if fault is not None and fault.kind == "rate_limit":
            headers = {"x-ratelimit-remaining": "0"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return self._reply(429, error_body("Request over limit", 429), headers)
        if fault is not None and fault.kind == "server_error":
            if fault.status == 503:
                html = "<html><body><h1>503 Service Unavailable</h1></body></html>"
                return self._reply(503, html, {"Content-Type": "text/html"})
            return self._reply(fault.status, error_body("Internal server error", fault.status))
        if fault is not None and fault.kind == "malformed":
            body = fault.body if fault.body is not None else b'{"success": true, "data": [{"id": 1, "name": "'
            return self._reply(200, body)
        reply = self._list(entity, request, empty=fault is not None and fault.kind == "empty_page")
        if fault is not None and fault.kind == "slow":
            reply.delay = fault.delay
        return reply

    def _list(self, entity: str, request: Request, *, empty: bool) -> Reply:
        query = request.query
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return self._invalid("limit", "Parameter 'limit' must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return self._invalid("limit", f"Parameter 'limit' must be between 1 and {MAX_LIMIT}")
        sort_by = query.get("sort_by", "id")
        direction = query.get("sort_direction", "asc")
        if sort_by not in ("id", "update_time", "add_time") or direction not in ("asc", "desc"):
            return self._invalid("sort_by", "Parameter 'sort_by' or 'sort_direction' has an invalid value")
        since = None
        if "updated_since" in query:
            try:
                since = _parse_time(query["updated_since"])
            except ValueError:
                return self._invalid("updated_since", "Parameter 'updated_since' must be an RFC 3339 date")
        statuses = set(query["status"].split(",")) if query.get("status") else None
        if entity != "deals" and statuses is not None:
            return self._invalid("status", "Parameter 'status' is not allowed")
        cursor = query.get("cursor")
        try:
            offset, serial = _decode_cursor(cursor) if cursor else (0, 0)
        except ValueError:
            return self._invalid("cursor", "Parameter 'cursor' is invalid")

        with self._lock:
            rows = list(self.records[entity].values())
        rows = [row for row in rows if _visible(row, statuses)]
        if since is not None:
            rows = [row for row in rows if _parse_time(row["update_time"]) >= since]
        rows.sort(key=lambda row: (row[sort_by], row["id"]), reverse=direction == "desc")

        data = [] if empty else rows[offset : offset + limit]
        end = offset if empty else offset + limit
        if self.stuck_cursor and cursor:
            next_cursor: str | None = cursor
        elif end < len(rows):
            next_cursor = _encode_cursor(end, serial + 1)
        else:
            next_cursor = None
        return self._reply(
            200, {"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}}
        )

    def _invalid(self, parameter: str, message: str) -> Reply:
        return self._reply(400, error_body(f"Validation failed: {parameter}: {message}", 400))

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        limits = {
            "x-ratelimit-limit": str(RATE_LIMIT_WINDOW),
            "x-ratelimit-remaining": "79",
            "x-ratelimit-reset": "2",
        }
        return Reply(status, body, {**limits, **(headers or {})})


def _visible(row: dict[str, Any], statuses: set[str] | None) -> bool:
    if statuses is None:
        return not row["is_deleted"]
    if row["is_deleted"]:
        return "deleted" in statuses
    return row.get("status") in statuses


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


def _encode_cursor(offset: int, serial: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}:{serial}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, offset, serial = text.split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc
    if tag != "o":
        raise ValueError(cursor)
    return int(offset), int(serial)
