"""A loopback fake of HubSpot CRM v3 objects (contacts, companies, deals): list and search.

It speaks the documented wire format: ``Authorization: Bearer <token>``; ``GET /crm/v3/objects/<type>``
with ``limit`` (default 10, above 100 a 400 ``VALIDATION_ERROR``), ``after`` (the id the next page starts
at), comma-separated ``properties`` and ``associations``, and ``archived`` (``true`` lists only archived
records); ``POST /crm/v3/objects/<type>/search`` with ``filterGroups`` (OR of ANDed filters), one sort,
``limit`` (at most 200), ``after`` as an integer offset and a result cap (10,000, configurable here as
``search_cap``) past which paging answers 400. Search never returns archived records and, like HubSpot's,
sends no rate-limit headers; list answers carry ``X-HubSpot-RateLimit-*``. Errors use HubSpot's body
``{"status": "error", "message", "correlationId", "category"}``. Property values are strings, datetimes
ISO 8601 with milliseconds; search filters take datetimes as epoch milliseconds. Records tied on the sort
property come back in a fixed order that is not id order, as nothing promises one.

Faults are queued with ``inject`` and hit the next matching requests (optionally only GET or POST):
``rate_limit`` (429 with HubSpot's body and headers, ``Retry-After`` when given), ``server_error`` (500
JSON or 502 HTML), ``malformed`` (a 200 whose body is cut off, or a given body), ``slow`` (the answer is
held back ``delay`` seconds). ``stuck_after = True``
makes every page requested with an ``after`` hand the same ``after`` back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeApi, LoopbackServer, Reply, Request

ENTITIES = ("contacts", "companies", "deals")
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DATETIME_PROPERTIES = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"})
ALWAYS_RETURNED = ("createdate", "hs_object_id")
DEFAULT_LIMIT = 10
MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE"})
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
RATE_LIMIT_HEADERS = {
    "X-HubSpot-RateLimit-Max": "190",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Daily": "1000000",
}


@dataclass(frozen=True)
class PostRequest(Request):
    body: bytes = b""


def hubspot_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def millis(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def error_body(message: str, category: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}


def _record(
    entity: str, record_id: int, modified: datetime | None, archived: bool, properties: dict[str, str | None]
) -> dict[str, Any]:
    modified = modified or EPOCH + timedelta(minutes=record_id)
    record = {
        "id": str(record_id),
        "properties": {
            **properties,
            "createdate": hubspot_time(EPOCH),
            MODIFIED[entity]: hubspot_time(modified),
            "hs_object_id": str(record_id),
        },
        "createdAt": hubspot_time(EPOCH),
        "updatedAt": hubspot_time(modified),
        "archived": archived,
    }
    if archived:
        record["archivedAt"] = hubspot_time(modified)
    return record


def contact(
    record_id: int,
    *,
    modified: datetime | None = None,
    email: str | None = None,
    firstname: str = "Min-jun",
    lastname: str = "Kim",
    phone: str | None = "02-123-4567",
    mobilephone: str | None = None,
    company: str | None = "Acme Korea",
    date_of_birth: str | None = None,
    archived: bool = False,
) -> dict[str, Any]:
    return _record(
        "contacts",
        record_id,
        modified,
        archived,
        {
            "email": email or f"contact{record_id}@example.com",
            "firstname": firstname,
            "lastname": lastname,
            "phone": phone,
            "mobilephone": mobilephone or f"010-5555-{record_id:04d}",
            "company": company,
            "date_of_birth": date_of_birth,
            "lifecyclestage": "customer",
            "hubspot_owner_id": "7",
        },
    )


def company(
    record_id: int, *, modified: datetime | None = None, name: str | None = None, archived: bool = False
) -> dict[str, Any]:
    return _record(
        "companies",
        record_id,
        modified,
        archived,
        {
            "name": name or f"Company {record_id}",
            "domain": f"company{record_id}.example.com",
            "industry": "COMPUTER_SOFTWARE",
            "numberofemployees": "25",
            "hubspot_owner_id": "7",
        },
    )


def deal(
    record_id: int,
    *,
    modified: datetime | None = None,
    amount: str = "1500000",
    stage: str = "closedwon",
    archived: bool = False,
) -> dict[str, Any]:
    return _record(
        "deals",
        record_id,
        modified,
        archived,
        {
            "dealname": f"Deal {record_id}",
            "amount": amount,
            "deal_currency_code": "KRW",
            "dealstage": stage,
            "pipeline": "default",
            "closedate": hubspot_time(EPOCH + timedelta(days=1)),
            "hs_is_closed_won": "true" if stage == "closedwon" else "false",
            "hubspot_owner_id": "7",
        },
    )


@dataclass
class _Store:
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {entity: {} for entity in ENTITIES}
    )
    links: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)


class _PostingServer(LoopbackServer):
    """``LoopbackServer`` handing the app a ``PostRequest`` for a POST (a search)."""

    post_request_class = PostRequest


class FakeHubSpot(FakeApi):
    """In-memory contacts, companies and deals behind the CRM v3 list and search endpoints."""

    server_class = _PostingServer

    def __init__(self, token: str = "pat-na1-fake", *, search_cap: int = SEARCH_CAP) -> None:
        super().__init__()
        self.token = token
        self.search_cap = search_cap
        self.store = _Store()
        self.stuck_after = False

    @property
    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.store.records

    def add(self, entity: str, *records: dict[str, Any]) -> None:
        with self._lock:
            for record in records:
                self.store.records[entity][record["id"]] = record

    def associate(self, entity: str, record_id: int | str, other: str, other_id: int | str) -> None:
        """Link two records both ways, as a HubSpot association is visible from either side."""
        with self._lock:
            self.store.links.setdefault((entity, str(record_id), other), []).append(str(other_id))
            self.store.links.setdefault((other, str(other_id), entity), []).append(str(record_id))

    def __call__(self, request: Request) -> Reply:
        parts = request.path.removeprefix("/crm/v3/objects/").split("/")
        entity = parts[0]
        is_search = request.method == "POST" and parts[1:] == ["search"]
        is_list = request.method == "GET" and len(parts) == 1
        if not request.path.startswith("/crm/v3/objects/") or entity not in ENTITIES:
            return self._reply(
                404, error_body(f"Unable to infer object type from: {entity}", "OBJECT_NOT_FOUND")
            )
        if not (is_search or is_list):
            return self._reply(405, error_body(f"HTTP {request.method} not supported", "VALIDATION_ERROR"))
        if request.header("authorization") != f"Bearer {self.token}":
            return self._reply(
                401,
                error_body(
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
                search=is_search,
            )
        fault = self.faults.take(lambda fault: fault.method in (None, request.method))
        if fault is not None and fault.kind == "rate_limit":
            body = {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
                "requestId": str(uuid.uuid4()),
            }
            headers = {"X-HubSpot-RateLimit-Remaining": "0"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return self._reply(429, body, headers, search=is_search)
        if fault is not None and fault.kind == "server_error":
            if fault.status == 502:
                return self._reply(
                    502, "<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"}
                )
            return self._reply(fault.status, error_body("internal error", "INTERNAL_ERROR"), search=is_search)
        if fault is not None and fault.kind == "malformed":
            body = fault.body if fault.body is not None else b'{"results": [{"id": "1", "properties": {"em'
            return self._reply(200, body, search=is_search)
        if is_search:
            assert isinstance(request, PostRequest)
            reply = self._search(entity, request)
        else:
            reply = self._list(entity, request)
        if fault is not None and fault.kind == "slow":
            reply.delay = fault.delay
        return reply

    def _list(self, entity: str, request: Request) -> Reply:
        query = request.query
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return self._invalid(f"limit must be an integer, got {query['limit']!r}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return self._invalid(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        after = query.get("after")
        if after is not None and not after.isdigit():
            return self._invalid(f"after must be an object id, got {after!r}")
        archived = query.get("archived", "false") == "true"
        properties = _names(query.get("properties"))
        associations = _names(query.get("associations"))
        with self._lock:
            rows = sorted(
                (row for row in self.store.records[entity].values() if row["archived"] == archived),
                key=lambda row: int(row["id"]),
            )
            if after is not None:
                rows = [row for row in rows if int(row["id"]) >= int(after)]
            page = [self._present(entity, row, properties, associations) for row in rows[:limit]]
        body: dict[str, Any] = {"results": page}
        following = rows[limit]["id"] if len(rows) > limit else None
        if self.stuck_after and after is not None:
            following = after
        if following is not None:
            link = f"https://api.hubapi.com/crm/v3/objects/{entity}?after={following}"
            body["paging"] = {"next": {"after": following, "link": link}}
        return self._reply(200, body)

    def _search(self, entity: str, request: PostRequest) -> Reply:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return self._invalid("Invalid input JSON", search=True)
        limit = body.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
            return self._invalid(
                f"limit must be between 1 and {MAX_SEARCH_LIMIT}, got {limit!r}", search=True
            )
        after_text = str(body.get("after", "0"))
        if not after_text.isdigit():
            return self._invalid(f"after must be formatted as an integer, got {after_text!r}", search=True)
        after = int(after_text)
        if after >= self.search_cap:
            return self._invalid(
                f"Paging past {self.search_cap} results is not supported; narrow the search", search=True
            )
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return self._invalid("Only one sort is supported", search=True)
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(group.get("filters", [])) for group in groups) > 18:
            return self._invalid("Too many filterGroups or filters", search=True)
        for group in groups:
            for item in group.get("filters", []):
                if item.get("operator") not in OPERATORS:
                    return self._invalid(f"Unsupported operator {item.get('operator')!r}", search=True)
        properties = list(body.get("properties") or [])

        with self._lock:
            rows = [
                row
                for row in self.store.records[entity].values()
                if not row["archived"] and (not groups or any(_matches(row, group) for group in groups))
            ]
            for sort in sorts:
                name = sort["propertyName"]
                rows.sort(key=lambda row: _tie_order(row["id"]))
                rows.sort(
                    key=lambda row, name=name: _comparable(name, row["properties"].get(name)) or 0,
                    reverse=sort.get("direction") == "DESCENDING",
                )
            end = min(after + limit, self.search_cap)
            page = [self._present(entity, row, properties, ()) for row in rows[after:end]]
        answer: dict[str, Any] = {"total": len(rows), "results": page}
        following = str(after + limit) if after + limit < len(rows) else None
        if self.stuck_after and "after" in body:
            following = after_text
        if following is not None:
            answer["paging"] = {"next": {"after": following}}
        return self._reply(200, answer, search=True)

    def _present(
        self,
        entity: str,
        row: dict[str, Any],
        properties: list[str],
        associations: tuple[str, ...] | list[str],
    ) -> dict[str, Any]:
        stored = row["properties"]
        names = [*properties, *ALWAYS_RETURNED, MODIFIED[entity]]
        record = {
            **row,
            "properties": {name: stored[name] for name in dict.fromkeys(names) if name in stored},
        }
        linked = {}
        for other in associations:
            ids = self.store.links.get((entity, row["id"], other))
            if ids:
                kind = f"{SINGULAR[entity]}_to_{SINGULAR.get(other, other)}"
                linked[other] = {"results": [{"id": other_id, "type": kind} for other_id in ids]}
        if linked:
            record["associations"] = linked
        return record

    def _invalid(self, message: str, *, search: bool = False) -> Reply:
        return self._reply(400, error_body(message, "VALIDATION_ERROR"), search=search)

    def _reply(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, search: bool = False
    ) -> Reply:
        limits = {} if search else {**RATE_LIMIT_HEADERS, "X-HubSpot-RateLimit-Remaining": "189"}
        return Reply(status, body, {**limits, **(headers or {})})


def _names(value: str | None) -> list[str]:
    return [name for name in (value or "").split(",") if name]


def _comparable(name: str, value: str | None) -> int | str | None:
    if value is None:
        return None
    if name in DATETIME_PROPERTIES and not value.isdigit():
        return millis(datetime.fromisoformat(value))
    if name in DATETIME_PROPERTIES or name == "hs_object_id":
        return int(value)
    return value


def _matches(row: dict[str, Any], group: dict[str, Any]) -> bool:
    for item in group.get("filters", []):
        name = item["propertyName"]
        have = _comparable(name, row["properties"].get(name))
        want = _comparable(name, str(item.get("value")))
        if have is None:
            return False
        operator = item["operator"]
        ok = {
            "EQ": have == want,
            "NEQ": have != want,
            "LT": have < want,
            "LTE": have <= want,
            "GT": have > want,
            "GTE": have >= want,
        }[operator]
        if not ok:
            return False
    return True


def _tie_order(record_id: str) -> str:
    return hashlib.sha1(record_id.encode()).hexdigest()
