"""HubSpot CRM v3 client: contacts, companies and deals, page by page.

A full read walks ``GET /crm/v3/objects/<type>`` with ``after`` paging (``paging.next.after``; no
``paging.next`` on the last page), asking for a fixed list of ``properties`` and, on that endpoint only,
for ``associations`` (contact → company, deal → contact and company). Archived (deleted) records are
listed only by a second walk with ``archived=true``, which returns nothing else.

An incremental read uses ``POST /crm/v3/objects/<type>/search``, filtering the modification time
(``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` on the others) ``GTE`` an epoch-millisecond
value and sorting on it ascending. Search stops at 10,000 results per query (paging further answers 400),
so before the cap the walk starts a new query from the last modification time it saw, skipping the
records of that instant it has already yielded. If a whole query's worth of records share one instant,
that instant is walked on its own, sorted by ``hs_object_id``, and the walk then goes on strictly after it.
Search never returns archived records or associations.

Search is a POST but only reads, so it is retried on 429 and 5xx exactly like a GET. Records come back
exactly as HubSpot sends them; reshaping happens downstream.

``sync_entity`` lands one object type through the sync engine (``sync_engine``). ``updated_at`` is the
record's modification property (see ``modified_ms``); the first sync, and a full refresh, is a list walk,
the others a search from the landed cursor minus the overlap. Deletions need no reconcile: every sync walks
the ``archived=true`` list after the live one, and an archived record lands with ``is_deleted`` set and an
``updated_at`` of its ``archivedAt`` when that is later, so it supersedes the live version in staging. (A
record purged for GDPR is not listed anywhere; it keeps its last version.)

Associations come only with a list walk, so ``_cursor`` names the walk of each page (``list``, ``archived``
or ``search <filter>``, then the ``after`` it was requested with), staging reads a record's associations from
its latest version landed by a list walk, and a list walk lands a record again when its associations
differ from that version's. Contacts carry Dripline's normalised contact columns, and a contact whose
``date_of_birth`` changed lands again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.apis import sync_engine
from connectors.apis.http import (
    ApiClient,
    MalformedResponseError,
    StuckCursorError,
    page_name,
)
from connectors.apis.sync_engine import Fetched, Page, SyncAdapter, SyncReport, text_or_none
from connectors.core.landing import LandingZone
from connectors.core.normalize import join_name_parts

__all__ = [
    "DEFAULT_ASSOCIATIONS",
    "DEFAULT_BASE_URL",
    "DEFAULT_PROPERTIES",
    "ENTITIES",
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_PAGE_SIZE",
    "MODIFIED_PROPERTY",
    "SEARCH_RESULT_CAP",
    "TOKEN_SETTING",
    "HubSpotClient",
    "Page",
    "contact_columns",
    "epoch_ms",
    "landing_zone",
    "modified_ms",
    "page_locator",
    "sync_entity",
]

SOURCE = "hubspot"

DEFAULT_BASE_URL = "https://api.hubapi.com"
TOKEN_SETTING = "DRIPLINE_HUBSPOT_ACCESS_TOKEN"
ENTITIES = ("contacts", "companies", "deals")
MAX_PAGE_SIZE = 100
MAX_SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "company",
        "date_of_birth",
        "lifecyclestage",
        "hubspot_owner_id",
        "createdate",
        "lastmodifieddate",
    ),
    "companies": (
        "name",
        "domain",
        "industry",
        "numberofemployees",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ),
    "deals": (
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "hs_is_closed_won",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ),
}
DEFAULT_ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "contacts": ("companies",),
    "companies": (),
    "deals": ("contacts", "companies"),
}


@dataclass
class _Seen:
    """The latest modification time yielded so far and the ids yielded at exactly that time."""

    at: int
    ids: set[str] = field(default_factory=set)

    def is_repeat(self, record_id: str, at: int) -> bool:
        return at == self.at and record_id in self.ids

    def add(self, record_id: str, at: int) -> None:
        if at > self.at:
            self.at, self.ids = at, {record_id}
        elif at == self.at:
            self.ids.add(record_id)


class HubSpotClient(ApiClient):
    """Read-only HubSpot CRM v3 client authenticated by a private-app or OAuth Bearer token.

    ``page_size`` is the list ``limit`` (HubSpot pages at most 100), ``search_page_size`` the search
    ``limit`` (at most 200) and ``search_result_cap`` the number of results one search query can reach
    (10,000); values outside those are refused here, before any call.
    """

    service = "HubSpot"
    default_token_setting = TOKEN_SETTING
    max_page_size = MAX_PAGE_SIZE

    def __init__(
        self,
        *args: Any,
        search_page_size: int = MAX_SEARCH_PAGE_SIZE,
        search_result_cap: int = SEARCH_RESULT_CAP,
        **options: Any,
    ) -> None:
        """``args`` and ``options`` are ``ApiClient``'s (base URL and token; page_size, timeout, retries)."""
        self.check_limit("search_page_size", search_page_size, MAX_SEARCH_PAGE_SIZE)
        if not search_page_size <= search_result_cap <= SEARCH_RESULT_CAP:
            raise ValueError(
                f"search_result_cap must be between search_page_size and {SEARCH_RESULT_CAP}, "
                f"got {search_result_cap}"
            )
        # Search is a POST that only reads: it gets the same bounded, measured retries as a GET.
        super().__init__(*args, retry_methods=frozenset({"GET", "POST"}), **options)
        self.search_page_size = search_page_size
        self.search_result_cap = search_result_cap

    def iter_pages(
        self,
        entity: str,
        *,
        modified_since: datetime | int | str | None = None,
        include_archived: bool = False,
        properties: Sequence[str] | None = None,
        associations: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        """Yield every page of ``entity``; archived records last, in their own walk, when asked for.

        Without ``modified_since`` this is a full list walk carrying ``associations`` (by default
        ``DEFAULT_ASSOCIATIONS``). With it, a search walk from that time (inclusive; a tz-aware datetime,
        ISO 8601 text or epoch milliseconds), oldest change first; search returns no associations, so
        asking for them there is refused. The archived walk is always a full list walk.

        Each page is yielded as soon as it has been read, so a caller can land it before the next call.
        """
        if entity not in ENTITIES:
            raise ValueError(f"unknown HubSpot object type {entity!r}; expected one of {', '.join(ENTITIES)}")
        wanted = list(dict.fromkeys([*(properties or DEFAULT_PROPERTIES[entity]), MODIFIED_PROPERTY[entity]]))
        if modified_since is None:
            linked = DEFAULT_ASSOCIATIONS[entity] if associations is None else tuple(associations)
            pages = self._list(entity, wanted, linked, archived=False, number=0)
        else:
            if associations:
                raise ValueError(
                    "HubSpot search returns no associations; read them with a full walk (no modified_since)"
                )
            linked = ()
            pages = self._search(entity, wanted, epoch_ms(modified_since))
        number = 0
        for page in pages:
            number = page.number
            if include_archived and page.is_last:
                page = replace(page, ends_walk=False)
            yield page
        if include_archived:
            yield from self._list(entity, wanted, linked, archived=True, number=number)

    def iter_records(
        self,
        entity: str,
        *,
        modified_since: datetime | int | str | None = None,
        include_archived: bool = False,
        properties: Sequence[str] | None = None,
        associations: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        for page in self.iter_pages(
            entity,
            modified_since=modified_since,
            include_archived=include_archived,
            properties=properties,
            associations=associations,
        ):
            yield from page.records

    def _list(
        self,
        entity: str,
        properties: list[str],
        associations: Sequence[str],
        *,
        archived: bool,
        number: int,
    ) -> Iterator[Page]:
        path = f"/crm/v3/objects/{entity}"
        walk = {"archived": "true"} if archived else {}
        params: dict[str, Any] = {
            "limit": self.page_size,
            "properties": ",".join(properties),
            "archived": "true" if archived else "false",
        }
        if associations:
            params["associations"] = ",".join(associations)
        described = " archived" if archived else ""

        def read(after: str | None, number: int) -> tuple[Page, str | None, str]:
            where = page_name(f"{entity}{described}", number, after, "after")
            query = params if after is None else {**params, "after": after}
            records, next_after = self._read_results(
                self.get_json(path, query, page=where), where, "GET", path
            )
            page = Page(entity, number, after, next_after, records, dict(walk))
            return page, next_after, where

        return self.walk_cursor(
            read,
            url=self.base_url + path,
            repeated="returned paging.next.after {cursor}, which this walk has already followed",
            first_number=number + 1,
        )

    def _search(self, entity: str, properties: list[str], since: int) -> Iterator[Page]:
        """Walk search results from ``since`` in queries that each stay under the result cap."""
        key = MODIFIED_PROPERTY[entity]
        seen = _Seen(at=since)
        numbers = itertools.count(1)
        lower, operator = since, "GTE"
        in_tie, tie_after = False, 0
        while True:
            if in_tie:
                filters = [_filter(key, "EQ", lower), _filter("hs_object_id", "GT", tie_after)]
                sort = "hs_object_id"
            else:
                filters = [_filter(key, operator, lower)]
                sort = key
            query = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": self.search_page_size,
            }
            capped, last_id = yield from self._search_query(entity, query, seen, numbers, final=not in_tie)
            if not capped:
                if not in_tie:
                    return
                in_tie, operator = False, "GT"
            elif in_tie:
                if last_id is None or last_id <= tie_after:
                    raise StuckCursorError(
                        f"HubSpot {entity} search filled a query with records modified at {lower} without "
                        f"moving past hs_object_id {tie_after}; stopping instead of looping.",
                        url=f"{self.base_url}/crm/v3/objects/{entity}/search",
                    )
                tie_after = last_id
            elif seen.at > lower:
                lower, operator = seen.at, "GTE"
            else:
                in_tie, tie_after = True, 0

    def _search_query(
        self,
        entity: str,
        query: dict[str, Any],
        seen: _Seen,
        numbers: Iterator[int],
        *,
        final: bool,
    ) -> Generator[Page, None, tuple[bool, int | None]]:
        """Page through one search query; return whether it stopped at the cap, and its last id.

        Records ``seen`` already yielded are left out, and the ones yielded here are added to it.
        """
        path = f"/crm/v3/objects/{entity}/search"
        filters = query["filterGroups"][0]["filters"]
        walk = {item["propertyName"]: f"{item['operator']} {item['value']}" for item in filters}
        described = " and ".join(f"{name} {value}" for name, value in walk.items())
        after: str | None = None
        last_id: int | None = None
        while True:
            number = next(numbers)
            page = page_name(
                f"{entity} search where {described}",
                number,
                after,
                "after",
                first="(first page of this query)",
            )
            body = self.post_json(path, query if after is None else {**query, "after": after}, page=page)
            records, next_after = self._read_results(body, page, "POST", path)
            if next_after is not None and (not next_after.isdigit() or int(next_after) <= int(after or 0)):
                raise StuckCursorError(
                    f"HubSpot {page} returned paging.next.after {next_after!r}, which does not move past "
                    f"{after or '0'}; stopping instead of looping.",
                    url=self.base_url + path,
                )
            fresh = []
            for record in records:
                at = modified_ms(entity, record)
                if at is None:
                    raise MalformedResponseError(
                        f"HubSpot {page} (POST {self.base_url}{path}) has record {record['id']!r} "
                        f"without a readable {MODIFIED_PROPERTY[entity]}",
                        url=self.base_url + path,
                    )
                if record["id"].isdigit():
                    last_id = int(record["id"])
                if not seen.is_repeat(record["id"], at):
                    seen.add(record["id"], at)
                    fresh.append(record)
            capped = (
                next_after is not None and int(next_after) + self.search_page_size > self.search_result_cap
            )
            self.stats.pages += 1
            yield Page(
                entity,
                number,
                after,
                next_after,
                fresh,
                dict(walk),
                ends_walk=final and next_after is None,
                duplicates=len(records) - len(fresh),
            )
            if next_after is None or capped:
                return capped, last_id
            after = next_after

    def _read_results(
        self, body: dict[str, Any], page: str, method: str, path: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        url = self.base_url + path

        def malformed(problem: str) -> MalformedResponseError:
            return MalformedResponseError(f"HubSpot {page} ({method} {url}) {problem}", url=url)

        results = body.get("results")
        if not isinstance(results, list):
            raise malformed(f"has results of type {type(results).__name__}, expected a list")
        for index, record in enumerate(results):
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise malformed(f"has results[{index}] that is not a record with a string id")
            if not isinstance(record.get("properties"), dict):
                raise malformed(f"has results[{index}] (id {record['id']!r}) without a properties object")
        paging = body.get("paging")
        if paging is None:
            return results, None
        if not isinstance(paging, dict):
            raise malformed("has paging that is not an object")
        following = paging.get("next")
        if following is None:
            return results, None
        after = following.get("after") if isinstance(following, dict) else None
        if not isinstance(after, str) or not after:
            raise malformed(f"has paging.next {following!r} without a string after")
        return results, after


def _filter(name: str, operator: str, value: int) -> dict[str, str]:
    return {"propertyName": name, "operator": operator, "value": str(value)}


def epoch_ms(value: datetime | int | str) -> int:
    """A moment as HubSpot's search filters take it: milliseconds since the Unix epoch."""
    if isinstance(value, bool):
        raise TypeError("modified_since must be a datetime, ISO 8601 text or epoch milliseconds")
    if isinstance(value, int):
        return value
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"modified_since needs a time zone, got {value!r}")
    return round(moment.timestamp() * 1000)


def modified_ms(entity: str, record: dict[str, Any]) -> int | None:
    """The record's modification time (``lastmodifieddate`` or ``hs_lastmodifieddate``) in epoch ms.

    HubSpot sends datetime properties as ISO 8601 text (``2025-01-01T09:30:00.123Z``); plain digits are
    read as milliseconds. ``None`` when the property is missing or unreadable.
    """
    value = record.get("properties", {}).get(MODIFIED_PROPERTY[entity])
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        return epoch_ms(value)
    except ValueError:
        return None


_CONTACT_HEADERS = ["id", "name", "email", "phone", "company", "lastmodifieddate", "date_of_birth"]
_CONTACT_MAPPING = dict(
    enumerate(["record_id", "name", "email", "phone", "company", "record_at", "birthday"])
)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one HubSpot object type; contacts carry the contact columns too."""
    return sync_engine.api_zone(landing_dir, SOURCE, entity, entities=ENTITIES, contacts="contacts")


def page_locator(page: Page) -> str:
    """Which walk a page belongs to and where in it: ``list``, ``archived`` or ``search <filter>``, then
    ``after <cursor>`` past the first page. Staging takes associations only from ``list`` pages."""
    if page.params.get("archived") == "true":
        walk = "archived"
    elif page.params:
        walk = "search " + " and ".join(f"{name} {value}" for name, value in sorted(page.params.items()))
    else:
        walk = "list"
    return walk if page.cursor is None else f"{walk} after {page.cursor}"


class HubSpotSync(SyncAdapter[Page]):
    """One object type: a search from the cursor, or a list walk, then the archived walk."""

    # A contact's date_of_birth, asked for after contacts first landed, changes without its modification.
    state_columns = ("raw_birthday",)

    def __init__(self, client: HubSpotClient, zone: LandingZone, *, region: str, local_tz: str) -> None:
        self.client, self.zone, self.stats = client, zone, client.stats
        self.label = f"HubSpot {zone.entity}"
        self.region, self.local_tz = region, local_tz
        self.linked: dict[str, str] = {}

    def prepare(self, updated_since: datetime | None) -> None:
        # Associations are compared only on a list walk, and read from the landing only for one.
        if updated_since is None and DEFAULT_ASSOCIATIONS[self.zone.entity]:
            self.linked = _listed_associations(self.zone)

    def pages(self, updated_since: datetime | None) -> Iterator[Page]:
        return self.client.iter_pages(self.zone.entity, modified_since=updated_since, include_archived=True)

    def records(self, page: Page) -> list[dict[str, Any]]:
        return page.records

    def fetched(self, page: Page, record: Mapping[str, Any]) -> Fetched:
        return Fetched(record["id"], self._updated_at(page, record), bool(record.get("archived")), record)

    def _updated_at(self, page: Page, record: Mapping[str, Any]) -> datetime:
        """The modification time; for an archived record its ``archivedAt`` when later, so the deletion
        supersedes the last live version."""
        at = modified_ms(page.entity, dict(record))
        if at is None:
            where = f"{page.entity} page {page.number} ({page_locator(page)})"
            url = f"{self.client.base_url}/crm/v3/objects/{page.entity}"
            raise MalformedResponseError(
                f"HubSpot {where} has record {record['id']!r} without a readable modification time", url=url
            )
        moment = datetime.fromtimestamp(at / 1000, UTC)
        archived_at = record.get("archivedAt")
        if record.get("archived") and isinstance(archived_at, str):
            with contextlib.suppress(ValueError):  # an unreadable archivedAt leaves the modification time
                moment = max(moment, datetime.fromisoformat(archived_at).astimezone(UTC))
        return moment

    def cursor_text(self, page: Page) -> str | None:
        return page_locator(page)

    def contacts(self, page: Page, records: list[dict[str, Any]]) -> pa.Table:
        return contact_columns(records, region=self.region, local_tz=self.local_tz)

    def links_changed(self, page: Page, fetched: Fetched) -> bool:
        return not page.params and self.linked.get(fetched.record_id) != _associations(fetched.record)

    def landed(self, page: Page, fetched: Fetched) -> None:
        if not page.params:
            self.linked[fetched.record_id] = _associations(fetched.record)


def sync_entity(
    client: HubSpotClient, zone: LandingZone, *, region: str = "KR", local_tz: str = "Asia/Seoul", **sync: Any
) -> SyncReport:
    """Land every record of ``zone.entity`` modified since the landed cursor (all of them, by a list walk,
    on a full refresh or the first sync), then every archived record as deleted. ``sync`` are
    ``run_sync``'s options: ``overlap``, ``full_refresh`` and ``on_page``."""
    return sync_engine.run_sync(HubSpotSync(client, zone, region=region, local_tz=local_tz), **sync)


def _associations(record: Mapping[str, Any]) -> str:
    """A record's associations as canonical JSON ``{type: [ids]}`` (``{}`` when it has none)."""
    found = record.get("associations") or {}
    canonical = {
        other: sorted(
            str(item.get("id")) for item in (linked or {}).get("results", []) if isinstance(item, dict)
        )
        for other, linked in found.items()
        if isinstance(linked, dict)
    }
    return _CANONICAL.encode(canonical)


def contact_columns(
    contacts: list[dict[str, Any]], *, region: str = "KR", local_tz: str = "Asia/Seoul"
) -> pa.Table:
    """The contact columns of HubSpot contacts, in order: name (firstname and lastname in the order of their
    script: 김민수, Minsu Kim), email, phone (else
    mobile phone), company and birthday (``date_of_birth``), normalised exactly like a spreadsheet row."""
    rows = []
    for position, contact in enumerate(contacts, start=1):
        properties = contact.get("properties") or {}
        name = join_name_parts(properties.get("firstname"), properties.get("lastname"))
        texts = [
            contact["id"],
            name,
            text_or_none(properties.get("email")),
            text_or_none(properties.get("phone")) or text_or_none(properties.get("mobilephone")),
            text_or_none(properties.get("company")),
            text_or_none(properties.get("lastmodifieddate")),
            text_or_none(properties.get("date_of_birth")),
        ]
        rows.append((sync_engine.row_number(contact["id"], position), texts, None))
    return sync_engine.contact_table(
        SOURCE,
        _CONTACT_HEADERS,
        _CONTACT_MAPPING,
        rows,
        where="HubSpot contact ",
        region=region,
        local_tz=local_tz,
    )


def _listed_associations(zone: LandingZone) -> dict[str, str]:
    """``{record_id: canonical associations}`` of the latest version of each record landed by a list walk
    (the ones staging reads associations from)."""
    table = zone.read_columns(
        ["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted", "_cursor", "record"]
    )
    listed = table.filter(pc.starts_with(table.column("_cursor"), "list"))
    latest = listed.take(sync_engine.latest_indices(listed))
    return {
        record_id: _associations(json.loads(record))
        for record_id, record in zip(
            latest.column("record_id").to_pylist(), latest.column("record").to_pylist(), strict=True
        )
    }
