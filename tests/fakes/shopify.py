"""A loopback fake of the Shopify Admin REST API's customers and orders lists.

It speaks the documented wire format: ``/admin/api/<version>/<entity>.json``, the
``X-Shopify-Access-Token`` header (401 with ``{"errors": ...}`` without it), ``limit`` (default 50, at most
250), ``order`` (``updated_at asc`` or the default ``id asc``), ``updated_at_min`` (inclusive), orders'
``status`` (``open`` by default, ``any`` for all) and cursor pagination: a ``Link`` header with the
``rel="next"`` (and ``rel="previous"``) URL whose opaque ``page_info`` carries the first request's filters; a
request with ``page_info`` may add ``limit`` and nothing else (400 otherwise).

Faults are queued with ``inject``: ``rate_limit`` (429 with ``Retry-After`` in seconds with a fraction, as
Shopify sends it), ``server_error`` (500 JSON or 503 HTML), ``malformed`` (a 200 whose body is cut off).
``stuck_link = True`` makes every page link to itself.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from tests.fakes.server import RecordStoreFake, Reply, Request

API_VERSION = "2025-07"
ENTITIES = ("customers", "orders")
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
RATE_LIMIT_TEXT = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


def shopify_time(moment: datetime) -> str:
    """Shopify writes times in the shop's zone with an offset: ``2025-01-01T09:00:00+09:00``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def customer(customer_id: int, *, updated: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A customer as the REST API returns it; ``fields`` override any top-level field, and ``company``
    and ``consent`` (``email_marketing_consent.state``) fill the nested ones."""
    company = fields.pop("company", None)
    consent = fields.pop("consent", "subscribed")
    address = {"id": customer_id * 10, "customer_id": customer_id, "company": company, "phone": None}
    record = {
        "id": customer_id,
        "email": f"customer{customer_id}@haneul-shop.kr",
        "created_at": shopify_time(EPOCH),
        "updated_at": shopify_time(updated or EPOCH + timedelta(minutes=customer_id)),
        "first_name": "Customer",
        "last_name": str(customer_id),
        "orders_count": 0,
        "state": "enabled",
        "total_spent": "0.00",
        "verified_email": True,
        "tags": "",
        "currency": "KRW",
        "phone": None,
        "email_marketing_consent": {
            "state": consent,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        },
        "default_address": {**address, "country_code": "KR", "default": True},
        "addresses": [address],
    }
    return record | fields


def order(
    order_id: int, *, customer_id: int | None, updated: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    """An order as the REST API returns it; ``fields`` override any top-level field, and ``cancelled``
    or ``closed`` stamp ``cancelled_at`` or ``closed_at`` with the update time."""
    at = shopify_time(updated or EPOCH + timedelta(minutes=order_id))
    cancelled, closed = fields.pop("cancelled", False), fields.pop("closed", False)
    total = fields.get("total_price", "10000.00")
    buyer = {"id": customer_id, "email": f"customer{customer_id}@haneul-shop.kr"} if customer_id else None
    record = {
        "id": order_id,
        "name": f"#{1000 + order_id}",
        "email": buyer["email"] if buyer else None,
        "created_at": shopify_time(EPOCH),
        "updated_at": at,
        "processed_at": shopify_time(EPOCH + timedelta(hours=1)),
        "cancelled_at": at if cancelled else None,
        "closed_at": at if closed else None,
        "financial_status": "paid",
        "fulfillment_status": None,
        "currency": "KRW",
        "total_price": total,
        "test": False,
        "customer": buyer,
        "line_items": [{"id": order_id * 10, "title": "Gift set", "quantity": 1, "price": total}],
    }
    return record | fields


class FakeShopify(RecordStoreFake):
    """In-memory customers and orders of one store behind the REST list endpoints."""

    fault_defaults: ClassVar[dict[str, Any]] = {"retry_after": "1.0"}

    entities = ENTITIES

    def __init__(self, token: str = "shpat_fake", *, api_version: str = API_VERSION) -> None:
        super().__init__(token)
        self.api_version = api_version
        self.stuck_link = False

    def __call__(self, request: Request) -> Reply:
        prefix = f"/admin/api/{self.api_version}/"
        entity = request.path.removeprefix(prefix).removesuffix(".json")
        if not request.path.startswith(prefix) or entity not in ENTITIES:
            return Reply(404, {"errors": "Not Found"})
        if request.header("x-shopify-access-token") != self.token:
            return Reply(
                401,
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
            )
        fault = self.faults.take()
        if fault is not None and fault.kind == "rate_limit":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return Reply(429, {"errors": RATE_LIMIT_TEXT}, headers)
        if fault is not None and fault.kind == "server_error":
            if fault.status == 503:
                return Reply(
                    503, "<html><body>Service Unavailable</body></html>", {"Content-Type": "text/html"}
                )
            return Reply(fault.status, {"errors": "Internal Server Error"})
        if fault is not None and fault.kind == "malformed":
            return Reply(200, b'{"customers": [{"id": 1, "email": "')
        return self._list(entity, request)

    def _list(self, entity: str, request: Request) -> Reply:
        query = dict(request.query)
        try:
            limit = int(query.pop("limit", DEFAULT_LIMIT))
        except ValueError:
            return Reply(400, {"errors": {"limit": ["must be an integer"]}})
        if not 1 <= limit <= MAX_LIMIT:
            return Reply(400, {"errors": {"limit": [f"must be between 1 and {MAX_LIMIT}"]}})
        if "page_info" in query:
            page_info = query.pop("page_info")
            if query:
                return Reply(
                    400, {"errors": {"page_info": [f"cannot be combined with {', '.join(sorted(query))}"]}}
                )
            try:
                filters = json.loads(base64.urlsafe_b64decode(page_info.encode()))
            except ValueError:
                return Reply(400, {"errors": {"page_info": ["Invalid value."]}})
        else:
            filters = {"order": query.get("order", "id asc"), "offset": 0}
            filters |= {key: query[key] for key in ("updated_at_min", "status") if key in query}
        if filters["order"] not in ("id asc", "updated_at asc"):
            return Reply(400, {"errors": {"order": ["Invalid value."]}})
        with self._lock:
            rows = list(self.records[entity].values())
        if entity == "orders" and filters.get("status", "open") != "any":
            rows = [row for row in rows if not row["cancelled_at"] and not row["closed_at"]]
        if "updated_at_min" in filters:
            since = datetime.fromisoformat(filters["updated_at_min"])
            rows = [row for row in rows if datetime.fromisoformat(row["updated_at"]) >= since]
        by_time = filters["order"] == "updated_at asc"
        rows.sort(key=lambda row: (datetime.fromisoformat(row["updated_at"]) if by_time else 0, row["id"]))
        offset = filters["offset"]
        links = []
        if self.stuck_link or offset + limit < len(rows):
            following = offset if self.stuck_link else offset + limit
            links.append(f'<{self._page_url(entity, limit, filters | {"offset": following})}>; rel="next"')
        if offset:
            previous = self._page_url(entity, limit, filters | {"offset": max(0, offset - limit)})
            links.append(f'<{previous}>; rel="previous"')
        headers = {"Link": ", ".join(links)} if links else {}
        headers["X-Shopify-Shop-Api-Call-Limit"] = "1/40"
        return Reply(200, {entity: rows[offset : offset + limit]}, headers)

    def _page_url(self, entity: str, limit: int, filters: dict[str, Any]) -> str:
        page_info = base64.urlsafe_b64encode(json.dumps(filters, sort_keys=True).encode()).decode()
        query = urlencode({"limit": limit, "page_info": page_info})
        return f"https://fake-store.myshopify.com/admin/api/{self.api_version}/{entity}.json?{query}"
