"""Incremental HubSpot syncs into the landing zone: one immutable batch per page, safe to re-run.

A sync of one object type (contacts, companies, deals) walks ``HubSpotClient.iter_pages`` and lands every
page as its own batch (``<sync_id>-p<page>``) before asking for the next, so a sync killed half-way keeps
the pages it landed. ``updated_at`` is the record's modification property (``lastmodifieddate``, or
``hs_lastmodifieddate``; see ``hubspot.modified_ms``). The next walk is a search from the largest landed
``updated_at`` minus an overlap, so the cursor never runs ahead of written data, and a re-run after a crash
searches again from the last landed page. The first sync, and a full refresh, is a list walk instead.

Deletions need no reconcile: HubSpot keeps a deleted record as archived and lists it in the ``archived=true``
walk, which every sync makes after the live one (``include_archived``); an archived record lands with
``is_deleted`` set and an ``updated_at`` of its ``archivedAt`` when that is later, so it supersedes the
live version in staging. (A record purged for GDPR is not listed anywhere; it keeps its last version.)

Associations (contact → company, deal → contact and company) come only with a list walk: search returns
none. So ``_cursor`` names the walk of each page (``list``, ``archived`` or ``search <filter>``, then the
``after`` it was requested with), and staging reads a record's associations from its latest version landed
by a list walk. A fetched record whose ``(updated_at, is_deleted)`` (and, on a list walk, associations; for
a contact, its ``date_of_birth``) equals its latest landed version is counted unchanged and not landed again,
so a full refresh lands the birthdays of contacts last landed before ``date_of_birth`` was asked for; staging
keeps the latest version per record_id by ``updated_at``, a tie going to the later landing, as
``pipedrive_sync`` does.
Contacts also carry Dripline's normalised contact columns, filled by the same ``TableRecords`` the file
readers use.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.apis.http import MalformedResponseError, SyncStats
from connectors.apis.hubspot import DEFAULT_ASSOCIATIONS, ENTITIES, HubSpotClient, Page, modified_ms
from connectors.apis.pipedrive_sync import SyncReport, _latest_indices, new_sync_id, next_updated_since
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from connectors.core.records import RecordBuilder, TableRecords

__all__ = ["SOURCE", "SyncReport", "contact_columns", "landing_zone", "sync_entity"]

SOURCE = "hubspot"
_CONTACT_HEADERS = ["id", "name", "email", "phone", "company", "lastmodifieddate", "date_of_birth"]
_CONTACT_MAPPING = {
    0: "record_id",
    1: "name",
    2: "email",
    3: "phone",
    4: "company",
    5: "record_at",
    6: "birthday",
}
_CONTACT_COLUMNS = [f.name for f in API_CONTACT_RECORD_SCHEMA if f.name not in API_RECORD_SCHEMA.names]
_VERSION_COLUMNS = ["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted"]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one HubSpot object type; contacts carry the contact columns too."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown HubSpot object type {entity!r}")
    schema = API_CONTACT_RECORD_SCHEMA if entity == "contacts" else API_RECORD_SCHEMA
    return LandingZone(landing_dir, SOURCE, entity, schema)


def page_locator(page: Page) -> str:
    """Which walk a page belongs to and where in it: ``list``, ``archived`` or ``search <filter>``, then
    ``after <cursor>`` past the first page. Staging takes associations only from ``list`` pages."""
    if page.params.get("archived") == "true":
        walk = "archived"
    elif page.params:
        walk = "search " + " and ".join(f"{name} {value}" for name, value in sorted(page.params.items()))
    else:
        walk = "list"
    return walk if page.after is None else f"{walk} after {page.after}"


def _is_list_walk(page: Page) -> bool:
    return not page.params


def sync_entity(
    client: HubSpotClient,
    zone: LandingZone,
    *,
    overlap: timedelta,
    full_refresh: bool = False,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    on_page: Callable[[Page, int], None] | None = None,
) -> SyncReport:
    """Land every record of ``zone.entity`` modified since the landed cursor (all of them, by a list walk,
    on a full refresh or the first sync), then every archived record as deleted. ``on_page`` is called with
    each page and the rows landed for it."""
    entity = zone.entity
    zone.prepare()
    cursor_before, modified_since = next_updated_since(zone, overlap)
    if full_refresh:
        modified_since = None
    report = SyncReport(entity, new_sync_id(), full_refresh, cursor_before, modified_since)
    landed = _landed_state(zone)
    # Associations are compared only on a list walk, and read from the landing only for one.
    linked = _listed_associations(zone) if modified_since is None and DEFAULT_ASSOCIATIONS[entity] else {}
    stats_before = SyncStats(**vars(client.stats))
    for page in client.iter_pages(entity, modified_since=modified_since, include_archived=True):
        report.pages += 1
        rows = _page_rows(client, page, report, landed, linked)
        table = _page_table(zone, page, report.pages, report.sync_id, rows, region, local_tz)
        if table.num_rows:
            batch_id = f"{report.sync_id}-p{report.pages:05d}"
            report.rows_landed += zone.write_batch(batch_id, table)
            report.batches.append(batch_id)
        if on_page is not None:
            on_page(page, table.num_rows)
    report.stats = SyncStats(
        **{key: value - getattr(stats_before, key) for key, value in vars(client.stats).items()}
    )
    report.cursor_after = zone.max_value("updated_at")
    return report


def _page_rows(
    client: HubSpotClient,
    page: Page,
    report: SyncReport,
    landed: dict[str, tuple[datetime | None, bool, str | None]],
    linked: dict[str, str],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(landing row, record)`` of each record of a page that changed since its latest landed version,
    every record counted as new, updated, unchanged or deleted."""
    rows = []
    for record in page.records:
        record_id = record["id"]
        updated_at = _updated_at(client, page, record)
        is_deleted = bool(record.get("archived"))
        birthday = _text(record["properties"].get("date_of_birth")) if page.entity == "contacts" else None
        associations = _associations(record) if _is_list_walk(page) else None
        before = landed.get(record_id)
        report.records_fetched += 1
        same_links = associations is None or linked.get(record_id) == associations
        if before == (updated_at, is_deleted, birthday) and same_links:
            report.records_unchanged += 1
            continue
        if is_deleted:
            report.records_deleted += 1
        elif before is None:
            report.records_new += 1
        else:
            report.records_updated += 1
        landed[record_id] = (updated_at, is_deleted, birthday)
        if associations is not None:
            linked[record_id] = associations
        row = {"record_id": record_id, "updated_at": updated_at, "is_deleted": is_deleted}
        rows.append(({**row, "record": _JSON.encode(record)}, record))
    return rows


def _updated_at(client: HubSpotClient, page: Page, record: Mapping[str, Any]) -> datetime:
    """The modification time; for an archived record its ``archivedAt`` when later, so the deletion
    supersedes the last live version."""
    at = modified_ms(page.entity, dict(record))
    if at is None:
        where = f"{page.entity} page {page.number} ({page_locator(page)})"
        url = f"{client.base_url}/crm/v3/objects/{page.entity}"
        raise MalformedResponseError(
            f"HubSpot {where} has record {record['id']!r} without a readable modification time", url=url
        )
    moment = datetime.fromtimestamp(at / 1000, UTC)
    archived_at = record.get("archivedAt")
    if record.get("archived") and isinstance(archived_at, str):
        with contextlib.suppress(ValueError):  # an unreadable archivedAt leaves the modification time
            moment = max(moment, datetime.fromisoformat(archived_at).astimezone(UTC))
    return moment


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


def _page_table(
    zone: LandingZone,
    page: Page,
    sequence: int,
    sync_id: str,
    rows: list[tuple[dict[str, Any], dict[str, Any]]],
    region: str,
    local_tz: str,
) -> pa.Table:
    n = len(rows)
    columns: dict[str, pa.Array] = {
        "_source": pa.array([SOURCE] * n, pa.string()),
        "_entity": pa.array([page.entity] * n, pa.string()),
        "_sync_id": pa.array([sync_id] * n, pa.string()),
        "_page": pa.array([sequence] * n, pa.int64()),
        "_cursor": pa.array([page_locator(page)] * n, pa.string()),
    }
    for name in ("record_id", "updated_at", "is_deleted", "record"):
        columns[name] = pa.array([row[name] for row, _ in rows], API_RECORD_SCHEMA.field(name).type)
    if zone.schema is API_CONTACT_RECORD_SCHEMA:
        contacts = contact_columns([record for _, record in rows], region=region, local_tz=local_tz)
        for name in _CONTACT_COLUMNS:
            columns[name] = contacts.column(name).combine_chunks()
    return pa.table(columns)


def contact_columns(
    contacts: list[dict[str, Any]], *, region: str = "KR", local_tz: str = "Asia/Seoul"
) -> pa.Table:
    """The contact columns of HubSpot contacts, in order: name (firstname lastname), email, phone (else
    mobile phone), company and birthday (``date_of_birth``) go through the same ``TableRecords`` as a
    spreadsheet row, so they are normalised exactly alike."""
    builder = RecordBuilder(
        source=SOURCE,
        relative_file="",
        region=region,
        local_tz=local_tz,
        id_key=lambda _sheet, value: value,
        row_key=lambda _sheet, number: str(number),
    )
    table = TableRecords(
        builder,
        sheet=None,
        headers=_CONTACT_HEADERS,
        mapping=_CONTACT_MAPPING,
        header_row=None,
        where="HubSpot contact ",
        column_name=lambda index: f"column {index + 1}",
    )
    for contact in contacts:
        properties = contact.get("properties") or {}
        name = " ".join(
            part for part in (_text(properties.get("firstname")), _text(properties.get("lastname"))) if part
        )
        texts = [
            contact["id"],
            name or None,
            _text(properties.get("email")),
            _text(properties.get("phone")) or _text(properties.get("mobilephone")),
            _text(properties.get("company")),
            _text(properties.get("lastmodifieddate")),
            _text(properties.get("date_of_birth")),
        ]
        number = int(contact["id"]) if contact["id"].isdigit() else table.report.rows_read + 1
        table.add(number, texts)
    return builder.table()


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _landed_state(zone: LandingZone) -> dict[str, tuple[datetime | None, bool, str | None]]:
    """``{record_id: (updated_at, is_deleted, raw_birthday)}`` of the latest landed version of every record;
    raw_birthday is None for companies and deals, and in batches landed before contacts carried it."""
    contacts = zone.schema is API_CONTACT_RECORD_SCHEMA
    table = zone.read_columns([*_VERSION_COLUMNS, "raw_birthday"] if contacts else _VERSION_COLUMNS)
    latest = table.take(_latest_indices(table))
    birthdays = latest.column("raw_birthday").to_pylist() if contacts else [None] * latest.num_rows
    return {
        record_id: (updated_at, is_deleted, birthday)
        for record_id, updated_at, is_deleted, birthday in zip(
            latest.column("record_id").to_pylist(),
            latest.column("updated_at").to_pylist(),
            latest.column("is_deleted").to_pylist(),
            birthdays,
            strict=True,
        )
    }


def _listed_associations(zone: LandingZone) -> dict[str, str]:
    """``{record_id: canonical associations}`` of the latest version of each record landed by a list walk
    (the ones staging reads associations from)."""
    table = zone.read_columns([*_VERSION_COLUMNS, "_cursor", "record"])
    listed = table.filter(pc.starts_with(table.column("_cursor"), "list"))
    latest = listed.take(_latest_indices(listed))
    return {
        record_id: _associations(json.loads(record))
        for record_id, record in zip(
            latest.column("record_id").to_pylist(), latest.column("record").to_pylist(), strict=True
        )
    }
