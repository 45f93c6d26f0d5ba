"""Shopify Admin REST client and sync: a store's customers and orders, page by page.

A walk reads ``GET /admin/api/<version>/customers.json`` or ``orders.json`` (``limit`` up to 250) with
cursor pagination: the ``Link`` header names the next page's URL (``rel="next"``), whose ``page_info`` is
sent back exactly as given, with ``limit`` and nothing else (the first request's filters travel inside it).
The first request asks for ``order=updated_at asc`` and, for an incremental walk, ``updated_at_min``
(inclusive); orders are asked for with ``status=any`` (open, closed and cancelled). The token goes in the
``X-Shopify-Access-Token`` header. A 429 carries ``Retry-After`` in seconds, fractions allowed ("2.0"),
which the client honours. Records come back exactly as Shopify sends them.

``sync_entity`` lands one entity through the sync engine (``sync_engine``) in ``landing/shopify/<entity>/``.
The REST lists leave deleted customers and orders out, so a full refresh that walks to the end reconciles
(tombstones, with the engine's mass-deletion guard). Customers carry Dripline's normalised contact columns:
name (first and last), email, phone (else the default address's), the default address's company, and email
marketing consent (``email_marketing_consent.state``: subscribed or not; pending and unknown states say
nothing). Orders reach purchases in dbt through their customer's id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

from connectors.apis import sync_engine
from connectors.apis.http import ApiClient, page_name
from connectors.apis.sync_engine import Fetched, Page, SyncAdapter, SyncReport, text_or_none
from connectors.core.landing import LandingZone
from connectors.core.normalize import join_name_parts, parse_timestamp

__all__ = [
    "BASE_URL_SETTING",
    "DEFAULT_API_VERSION",
    "ENTITIES",
    "MAX_PAGE_SIZE",
    "TOKEN_SETTING",
    "Page",
    "ShopifyClient",
    "customer_contacts",
    "landing_zone",
    "sync_entity",
]

SOURCE = "shopify"
TOKEN_SETTING = "DRIPLINE_SHOPIFY_ACCESS_TOKEN"
BASE_URL_SETTING = "DRIPLINE_SHOPIFY_BASE_URL"
DEFAULT_API_VERSION = "2025-07"
ENTITIES = ("customers", "orders")
MAX_PAGE_SIZE = 250
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-z]+)"?')
_API_VERSION = re.compile(r"\d{4}-\d{2}|unstable")
# email_marketing_consent.state in the words parse_consent reads; pending, invalid and redacted say nothing.
_CONSENT = {"subscribed": "subscribed", "unsubscribed": "unsubscribed", "not_subscribed": "unsubscribed"}
_CUSTOMER_HEADERS = ["id", "name", "email", "phone", "company", "updated_at", "email_marketing_consent"]
_CUSTOMER_MAPPING = dict(
    enumerate(["record_id", "name", "email", "phone", "company", "record_at", "consent_email"])
)


class ShopifyClient(ApiClient):
    """``base_url`` is the store's admin host, ``https://<store>.myshopify.com``."""

    service = "Shopify"
    auth_header = "X-Shopify-Access-Token"
    auth_scheme = None
    default_token_setting = TOKEN_SETTING
    max_page_size = MAX_PAGE_SIZE

    def __init__(self, *args: Any, api_version: str = DEFAULT_API_VERSION, **options: Any) -> None:
        """``args`` and ``options`` are ``ApiClient``'s (base URL and token; page_size, timeout, retries)."""
        if not _API_VERSION.fullmatch(api_version):
            raise ValueError(f"Shopify API version must look like 2025-07, got {api_version!r}")
        super().__init__(*args, **options)
        self.api_version = api_version

    def path(self, entity: str) -> str:
        return f"/admin/api/{self.api_version}/{entity}.json"

    def iter_pages(self, entity: str, *, updated_since: datetime | None = None) -> Iterator[Page]:
        """Yield every page of ``entity``, oldest update first, each as soon as it has been read."""
        if entity not in ENTITIES:
            raise ValueError(f"unknown Shopify entity {entity!r}; expected one of {', '.join(ENTITIES)}")
        first: dict[str, Any] = {"limit": self.page_size, "order": "updated_at asc"}
        if updated_since is not None:
            first["updated_at_min"] = updated_since.astimezone(UTC).isoformat(timespec="seconds")
        if entity == "orders":
            first["status"] = "any"
        path = self.path(entity)

        def read(page_info: str | None, number: int) -> tuple[Page, str | None, str]:
            where = page_name(entity, number, page_info, "at page_info")
            query = first if page_info is None else {"limit": self.page_size, "page_info": page_info}
            body, headers = self.get_json_and_headers(path, query, page=where)
            records = body.get(entity)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise self.malformed(where, self.base_url + path, f"has no list of {entity}")
            next_page_info = _next_page_info(headers.get("Link"))
            return Page(entity, number, page_info, next_page_info, records), next_page_info, where

        yield from self.walk_cursor(
            read,
            url=self.base_url + path,
            repeated="links to page_info {cursor}, which this walk has already read",
        )


def _next_page_info(link: str | None) -> str | None:
    """The ``page_info`` of the ``rel="next"`` URL of a ``Link`` header, None when there is none."""
    for url, rel in _LINK.findall(link or ""):
        if rel == "next":
            values = parse_qs(urlsplit(url).query).get("page_info")
            return values[0] if values else None
    return None


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one Shopify entity; customers carry the contact columns too."""
    return sync_engine.api_zone(landing_dir, SOURCE, entity, entities=ENTITIES, contacts="customers")


class ShopifySync(SyncAdapter[Page]):
    """One entity, walked by update time; deletions are reconciled on a full refresh."""

    reconciles = True

    def __init__(self, client: ShopifyClient, zone: LandingZone, *, region: str, local_tz: str) -> None:
        self.client, self.zone, self.stats = client, zone, client.stats
        self.label = f"Shopify {zone.entity}"
        self.region, self.local_tz = region, local_tz

    def pages(self, updated_since: datetime | None) -> Iterator[Page]:
        return self.client.iter_pages(self.zone.entity, updated_since=updated_since)

    def records(self, page: Page) -> list[dict[str, Any]]:
        return page.records

    def fetched(self, page: Page, record: Mapping[str, Any]) -> Fetched:
        record_id = text_or_none(record.get("id"))
        updated_at, problem = parse_timestamp(record.get("updated_at"), "UTC")
        if record_id is None or updated_at is None:
            what = f"without a readable updated_at ({problem or 'missing'})" if record_id else "without an id"
            where = f"{page.entity} page {page.number}"
            raise self.client.malformed(
                where, self.client.base_url + self.client.path(page.entity), f"has record {record_id} {what}"
            )
        return Fetched(record_id, updated_at, False, record)

    def cursor_text(self, page: Page) -> str | None:
        return page.cursor

    def contacts(self, page: Page, records: list[dict[str, Any]]) -> pa.Table:
        return customer_contacts(records, region=self.region, local_tz=self.local_tz)


def sync_entity(
    client: ShopifyClient, zone: LandingZone, *, region: str = "KR", local_tz: str = "Asia/Seoul", **sync: Any
) -> SyncReport:
    """Land every record of ``zone.entity`` updated since the landed cursor (all of them on a full refresh,
    which then tombstones what the store no longer lists). ``sync`` are ``run_sync``'s options:
    ``overlap``, ``full_refresh``, ``allow_mass_deletion`` and ``on_page``."""
    return sync_engine.run_sync(ShopifySync(client, zone, region=region, local_tz=local_tz), **sync)


def customer_contacts(
    customers: list[dict[str, Any]], *, region: str = "KR", local_tz: str = "Asia/Seoul"
) -> pa.Table:
    """The contact columns of customers, in order, normalised exactly like a spreadsheet row."""
    rows = []
    for position, customer in enumerate(customers, start=1):
        address = customer.get("default_address") if isinstance(customer.get("default_address"), dict) else {}
        consent = customer.get("email_marketing_consent")
        state = text_or_none(consent.get("state")) if isinstance(consent, dict) else None
        record_id = str(customer["id"])
        texts = [
            record_id,
            join_name_parts(
                text_or_none(customer.get("first_name")), text_or_none(customer.get("last_name"))
            ),
            text_or_none(customer.get("email")),
            text_or_none(customer.get("phone")) or text_or_none(address.get("phone")),
            text_or_none(address.get("company")),
            text_or_none(customer.get("updated_at")),
            _CONSENT.get((state or "").lower()),
        ]
        rows.append((sync_engine.row_number(record_id, position), texts, None))
    return sync_engine.contact_table(
        SOURCE,
        _CUSTOMER_HEADERS,
        _CUSTOMER_MAPPING,
        rows,
        where="Shopify customer ",
        region=region,
        local_tz=local_tz,
    )
