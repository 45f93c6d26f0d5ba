"""Pipedrive API v2 client: persons, organizations and deals, page by page.

Lists walk ``GET /api/v2/<entity>`` with cursor pagination (``additional_data.next_cursor``; ``null`` on
the last page) sorted by ``update_time`` ascending, optionally from ``updated_since`` (inclusive,
RFC 3339). Records come back exactly as Pipedrive sends them; reshaping happens downstream.

Pipedrive leaves deleted deals out of the default list and keeps them under ``status=deleted`` for 30
days; ``statuses=DEAL_STATUSES`` lists every deal, deleted ones included, in one walk ordered by update
time. (Archived deals are in neither since 2025-07-15.) Persons and organizations have no such filter; their
deletions need a full reconciliation.

``sync_entity`` lands one entity through the sync engine (``sync_engine``): persons carry Dripline's
normalised contact columns, and a person whose organization name or birthday changed without touching its
``update_time`` lands again. Deals are walked with every status, deleted included, in one walk ordered by
update time, and are never reconciled: since 2025-07-15 the deals list leaves archived deals out, so a deal
missing from a full walk may be archived, not deleted; it keeps its last landed version. Persons and
organizations have no deleted listing: a full refresh that walks to the end reconciles instead (tombstones,
with the engine's mass-deletion guard).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.apis import sync_engine
from connectors.apis.http import ApiClient, page_name
from connectors.apis.sync_engine import Fetched, Page, SyncAdapter, SyncReport, text_or_none
from connectors.core.landing import LandingZone
from connectors.core.normalize import parse_timestamp

__all__ = [
    "DEAL_STATUSES",
    "DEFAULT_BASE_URL",
    "ENTITIES",
    "MAX_PAGE_SIZE",
    "TOKEN_SETTING",
    "Page",
    "PipedriveClient",
    "landing_zone",
    "person_contacts",
    "rfc3339",
    "sync_entity",
]

SOURCE = "pipedrive"

DEFAULT_BASE_URL = "https://api.pipedrive.com"
TOKEN_SETTING = "DRIPLINE_PIPEDRIVE_API_TOKEN"
ENTITIES = ("persons", "organizations", "deals")
MAX_PAGE_SIZE = 500
DEAL_STATUSES = ("open", "won", "lost", "deleted")


class PipedriveClient(ApiClient):
    """Read-only Pipedrive v2 client authenticated by the ``x-api-token`` header.

    ``page_size`` is sent as ``limit``; Pipedrive allows 1 to 500 and answers 400 above that, so a larger
    value is refused here, before any call.
    """

    service = "Pipedrive"
    auth_header = "x-api-token"
    auth_scheme = None
    default_token_setting = TOKEN_SETTING
    max_page_size = MAX_PAGE_SIZE

    def iter_pages(
        self,
        entity: str,
        *,
        updated_since: datetime | str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        """Yield every page of ``entity``, oldest update first.

        ``statuses`` (deals only) filters one walk by status, e.g. ``DEAL_STATUSES`` for every deal,
        deleted ones included, in a single walk ordered by update time: a caller that derives its next
        ``updated_since`` from what it landed needs one ordered walk, not two.

        Each page is yielded as soon as it has been read, so a caller can land it before the next call.
        """
        if entity not in ENTITIES:
            raise ValueError(f"unknown Pipedrive entity {entity!r}; expected one of {', '.join(ENTITIES)}")
        if statuses and entity != "deals":
            raise ValueError("only deals can be listed with their deletions (status=deleted)")
        params = {"sort_by": "update_time", "sort_direction": "asc"}
        if updated_since is not None:
            params["updated_since"] = rfc3339(updated_since)
        if statuses:
            unknown = sorted(set(statuses) - set(DEAL_STATUSES))
            if unknown:
                raise ValueError(f"unknown deal status(es) {unknown}; expected some of {DEAL_STATUSES}")
            params["status"] = ",".join(statuses)
        yield from self._walk(entity, params)

    def _walk(self, entity: str, params: dict[str, str]) -> Iterator[Page]:
        path = f"/api/v2/{entity}"
        filters = {key: value for key, value in params.items() if key in ("updated_since", "status")}

        def read(cursor: str | None, number: int) -> tuple[Page, str | None, str]:
            query: dict[str, Any] = {**params, "limit": self.page_size}
            if cursor is not None:
                query["cursor"] = cursor
            where = page_name(entity, number, cursor, "at cursor", filters=filters)
            records, next_cursor = self._read_envelope(self.get_json(path, query, page=where), where, path)
            return Page(entity, number, cursor, next_cursor, records, dict(filters)), next_cursor, where

        return self.walk_cursor(
            read,
            url=self.base_url + path,
            repeated="returned next_cursor {cursor}, which this walk has already followed",
        )

    def _read_envelope(
        self, body: dict[str, Any], page: str, path: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        url = self.base_url + path
        if body.get("success") is not True:
            raise self.malformed(page, url, f"has success={body.get('success')!r}, not true")
        data = body.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise self.malformed(page, url, f"has data of type {type(data).__name__}, expected a list")
        for index, record in enumerate(data):
            if not isinstance(record, dict) or "id" not in record:
                raise self.malformed(page, url, f"has data[{index}] that is not a record with an id")
        additional = body.get("additional_data")
        if additional is None:
            return data, None
        if not isinstance(additional, dict):
            raise self.malformed(page, url, "has additional_data that is not an object")
        next_cursor = additional.get("next_cursor")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise self.malformed(page, url, f"has next_cursor {next_cursor!r}, expected a string or null")
        return data, next_cursor or None


def rfc3339(value: datetime | str) -> str:
    """``updated_since`` as Pipedrive takes it: UTC, whole seconds, ``Z`` (``2025-01-01T10:20:00Z``).

    Fractions of a second are dropped, which can only widen an inclusive lower bound.
    """
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"updated_since needs a time zone, got {value!r}")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# The cells of a person that Dripline normalises, in the shape a file reader maps a header row.
_PERSON_HEADERS = ["id", "name", "email", "phone", "organization", "update_time", "birthday"]
_PERSON_MAPPING = dict(enumerate(["record_id", "name", "email", "phone", "company", "record_at", "birthday"]))


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one Pipedrive entity; persons carry the contact columns too."""
    return sync_engine.api_zone(landing_dir, SOURCE, entity, entities=ENTITIES, contacts="persons")


class PipedriveSync(SyncAdapter[Page]):
    """One entity: persons read organization names from the landed organizations."""

    # A person's organization name changes without touching the person; a birthday landed late.
    state_columns = ("company", "raw_birthday")
    # The person itself did not change: it lands again, but counts as unchanged.
    state_counts_as_update = False

    def __init__(
        self,
        client: PipedriveClient,
        zone: LandingZone,
        *,
        organizations: LandingZone | None,
        region: str,
        local_tz: str,
    ) -> None:
        self.client, self.zone, self.stats = client, zone, client.stats
        self.label = f"Pipedrive {zone.entity}"
        self.reconciles = zone.entity != "deals"
        self.organizations = organizations
        self.region, self.local_tz = region, local_tz
        self.org_names: dict[str, str] = {}

    def prepare(self, updated_since: datetime | None) -> None:
        if self.zone.entity == "persons" and self.organizations is not None:
            self.org_names = _organization_names(self.organizations)

    def pages(self, updated_since: datetime | None) -> Iterator[Page]:
        statuses = DEAL_STATUSES if self.zone.entity == "deals" else None
        return self.client.iter_pages(self.zone.entity, updated_since=updated_since, statuses=statuses)

    def records(self, page: Page) -> list[dict[str, Any]]:
        return page.records

    def fetched(self, page: Page, record: Mapping[str, Any]) -> Fetched:
        record_id = str(record["id"])
        updated_at, problem = parse_timestamp(record.get("update_time"), "UTC")
        if updated_at is None:
            raise self.client.malformed(
                page_name(page.entity, page.number, page.cursor, "at cursor"),
                self.client.base_url + f"/api/v2/{page.entity}",
                f"has record {record_id} without a readable update_time ({problem or 'missing'})",
            )
        is_deleted = bool(record.get("is_deleted")) or record.get("status") == "deleted"
        return Fetched(record_id, updated_at, is_deleted, record)

    def cursor_text(self, page: Page) -> str | None:
        return page.cursor

    def contacts(self, page: Page, records: list[dict[str, Any]]) -> pa.Table:
        return person_contacts(records, self.org_names, region=self.region, local_tz=self.local_tz)


def sync_entity(
    client: PipedriveClient,
    zone: LandingZone,
    *,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    organizations: LandingZone | None = None,
    **sync: Any,
) -> SyncReport:
    """Land every record of ``zone.entity`` updated since the landed cursor (all of them on a full refresh).

    ``organizations`` is the organizations zone a persons sync reads organization names from (a v2
    person carries only ``org_id``). ``sync`` are ``run_sync``'s options: ``overlap``, ``full_refresh``,
    ``allow_mass_deletion`` (a full refresh of persons or organizations reconciles; past
    ``MASS_DELETION_SHARE`` only with it, else ``MassDeletionError``, nothing tombstoned) and ``on_page``.
    """
    adapter = PipedriveSync(client, zone, organizations=organizations, region=region, local_tz=local_tz)
    return sync_engine.run_sync(adapter, **sync)


def person_contacts(
    persons: list[dict[str, Any]],
    org_names: Mapping[str, str],
    *,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
) -> pa.Table:
    """The contact columns of persons, in order: name, primary email, primary phone, organization name and
    birthday, normalised exactly like a spreadsheet row."""
    rows = (
        (
            sync_engine.row_number(str(person["id"]), position),
            [
                str(person["id"]),
                text_or_none(person.get("name")),
                _primary(person.get("emails")),
                _primary(person.get("phones")),
                _organization_name(person, org_names),
                text_or_none(person.get("update_time")),
                text_or_none(person.get("birthday")),
            ],
            None,
        )
        for position, person in enumerate(persons, start=1)
    )
    return sync_engine.contact_table(
        SOURCE,
        _PERSON_HEADERS,
        _PERSON_MAPPING,
        rows,
        where="Pipedrive person ",
        region=region,
        local_tz=local_tz,
    )


def _primary(entries: object) -> str | None:
    """The primary entry of Pipedrive's ``emails``/``phones`` list, else the first with a value."""
    if not isinstance(entries, list):
        return text_or_none(entries)
    valued = [e for e in entries if isinstance(e, dict) and text_or_none(e.get("value"))]
    chosen = next((e for e in valued if e.get("primary")), valued[0] if valued else None)
    return text_or_none(chosen["value"]) if chosen else None


def _organization_name(person: Mapping[str, Any], org_names: Mapping[str, str]) -> str | None:
    org = person.get("org_id")
    if isinstance(org, dict):  # v1 shape, or an embedded organization
        return text_or_none(org.get("name")) or org_names.get(str(org.get("value")))
    return text_or_none(person.get("org_name")) or (org_names.get(str(org)) if org is not None else None)


def _organization_names(zone: LandingZone) -> dict[str, str]:
    """Current name of every landed, live organization."""
    table = zone.read_columns(["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted", "record"])
    latest = table.take(sync_engine.latest_indices(table))
    latest = latest.filter(pc.invert(latest.column("is_deleted")))
    names = {}
    records = zip(latest.column("record_id").to_pylist(), latest.column("record").to_pylist(), strict=True)
    for record_id, record in records:
        name = text_or_none(json.loads(record).get("name"))
        if name:
            names[record_id] = name
    return names
