"""Incremental Pipedrive syncs into the landing zone: one immutable batch per page, safe to re-run.

A sync of one entity walks ``GET /api/v2/<entity>`` sorted by update time from ``updated_since`` and lands
every page as its own batch (``<sync_id>-p<page>``) before asking for the next, so a sync killed half-way
keeps the pages it landed. ``updated_since`` is derived from what has durably landed: the largest
``updated_at`` in the entity's batches (from the parquet footers) minus an overlap, so the cursor can never
run ahead of written data, and a re-run after a crash fetches again from the last landed page. A fetched
record whose ``(updated_at, is_deleted)`` (and, for a person, organization name and birthday) equals its
latest landed version is counted as unchanged and not landed again, so overlaps and nightly full refreshes
do not grow the landing zone, while a full refresh lands the birthday of a person last landed before persons
carried one. Staging keeps the latest version per record_id by ``updated_at``, a tie going to the later
landing (``_loaded_at``, then ``_load_id``) exactly as ``_latest_indices`` does here.

Deals are walked with every status, deleted included, in one walk ordered by update time, and are never
reconciled: since 2025-07-15 the deals list leaves archived deals out, so a deal missing from a full walk
may be archived, not deleted; it keeps its last landed version. Persons and organizations have no deleted
listing: a full refresh that walks to the end reconciles instead, landing a tombstone (the last landed
version with ``is_deleted`` set) for each landed record the API no longer lists, unless that would
tombstone more than ``MASS_DELETION_SHARE`` of the live records (an empty or less-privileged walk): then
``MassDeletionError`` is raised and nothing is tombstoned, unless ``allow_mass_deletion`` is set.
Persons also carry Dripline's normalised contact columns, filled by the same ``TableRecords`` the file
readers use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.apis.http import SyncStats
from connectors.apis.pipedrive import DEAL_STATUSES, ENTITIES, Page, PipedriveClient
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from connectors.core.normalize import parse_timestamp
from connectors.core.records import RecordBuilder, TableRecords

__all__ = [
    "MASS_DELETION_SHARE",
    "SOURCE",
    "MassDeletionError",
    "SyncReport",
    "check_mass_deletion",
    "landing_zone",
    "next_updated_since",
    "sync_entity",
]

SOURCE = "pipedrive"
# The cells of a person that Dripline normalises, in the shape a file reader maps a header row.
_PERSON_HEADERS = ["id", "name", "email", "phone", "organization", "update_time", "birthday"]
_PERSON_MAPPING = {
    0: "record_id",
    1: "name",
    2: "email",
    3: "phone",
    4: "company",
    5: "record_at",
    6: "birthday",
}
_CONTACT_COLUMNS = [f.name for f in API_CONTACT_RECORD_SCHEMA if f.name not in API_RECORD_SCHEMA.names]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A full-refresh reconcile that would tombstone more than this share of the live landed records is refused.
MASS_DELETION_SHARE = 0.2
# The columns that pick the latest landed version of a record (see _latest_indices).
_VERSION_COLUMNS = ["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted"]
# The contact columns of a person that make a re-fetch with the same update time a new version: the name of
# its organization (which changes without touching the person) and its birthday as given.
_PERSON_STATE = ("company", "raw_birthday")


class MassDeletionError(RuntimeError):
    """A full-refresh reconcile would tombstone more than ``MASS_DELETION_SHARE`` of the live records."""


def check_mass_deletion(what: str, missing: int, live: int, *, allow: bool) -> None:
    """Refuse (``MassDeletionError``) to tombstone ``missing`` of ``live`` landed records when that is more
    than ``MASS_DELETION_SHARE`` of them, unless ``allow``: a walk that came back empty, or with a token
    that sees less, must not delete most of the data."""
    if allow or missing == 0 or missing <= MASS_DELETION_SHARE * live:
        return
    raise MassDeletionError(
        f"Refusing to reconcile {what}: {missing} of {live} live landed records "
        f"({missing / live:.0%}) are missing from the full walk, more than the {MASS_DELETION_SHARE:.0%} "
        f"allowed; nothing was tombstoned. If they really were deleted, run the full refresh again with "
        f"allow_mass_deletion=True."
    )


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one Pipedrive entity; persons carry the contact columns too."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown Pipedrive entity {entity!r}")
    schema = API_CONTACT_RECORD_SCHEMA if entity == "persons" else API_RECORD_SCHEMA
    return LandingZone(landing_dir, SOURCE, entity, schema)


@dataclass
class SyncReport:
    """What one sync of one entity did; ``as_metadata`` is what the asset reports."""

    entity: str
    sync_id: str
    full_refresh: bool
    cursor_before: datetime | None
    updated_since: datetime | None
    cursor_after: datetime | None = None
    pages: int = 0
    records_fetched: int = 0
    records_new: int = 0
    records_updated: int = 0
    records_unchanged: int = 0
    records_deleted: int = 0
    rows_landed: int = 0
    batches: list[str] = field(default_factory=list)
    stats: SyncStats = field(default_factory=SyncStats)

    def as_metadata(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "sync_id": self.sync_id,
            "full_refresh": self.full_refresh,
            "cursor_before": when(self.cursor_before),
            "updated_since": when(self.updated_since),
            "cursor_after": when(self.cursor_after),
            "pages": self.pages,
            "records_fetched": self.records_fetched,
            "records_new": self.records_new,
            "records_updated": self.records_updated,
            "records_unchanged": self.records_unchanged,
            "records_deleted": self.records_deleted,
            "rows_landed": self.rows_landed,
            "api_calls": self.stats.api_calls,
            "retries": self.stats.retries,
            "rate_limit_waits": self.stats.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.stats.rate_limit_wait_seconds, 3),
        }


def next_updated_since(zone: LandingZone, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
    """``(cursor, updated_since)``: the latest landed ``updated_at`` and the lower bound of the next walk."""
    cursor = zone.max_value("updated_at")
    if cursor is None:
        return None, None
    return cursor, cursor - overlap


def new_sync_id(now: datetime | None = None) -> str:
    """Sortable and unique: ``20250101T102000123456Z-1a2b3c4d``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def sync_entity(
    client: PipedriveClient,
    zone: LandingZone,
    *,
    overlap: timedelta,
    full_refresh: bool = False,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    organizations: LandingZone | None = None,
    on_page: Callable[[Page, int], None] | None = None,
    allow_mass_deletion: bool = False,
) -> SyncReport:
    """Land every record of ``zone.entity`` updated since the landed cursor (all of them on a full refresh).

    ``organizations`` is the organizations zone a persons sync reads organization names from (a v2
    person carries only ``org_id``). ``on_page`` is called with each page and the rows landed for it.
    A full refresh of persons or organizations reconciles; ``allow_mass_deletion`` lets it tombstone more
    than ``MASS_DELETION_SHARE`` of the live records (else ``MassDeletionError``, nothing tombstoned).
    """
    entity = zone.entity
    zone.prepare()
    cursor_before, updated_since = next_updated_since(zone, overlap)
    if full_refresh:
        updated_since = None
    report = SyncReport(entity, new_sync_id(), full_refresh, cursor_before, updated_since)
    landed = _landed_state(zone)
    known = {record_id: (version.updated_at, version.is_deleted) for record_id, version in landed.items()}
    org_names = _organization_names(organizations) if entity == "persons" and organizations else {}
    seen: set[str] = set()
    pages = client.iter_pages(
        entity,
        updated_since=updated_since,
        statuses=DEAL_STATUSES if entity == "deals" else None,
    )
    stats_before = SyncStats(**vars(client.stats))
    for page in pages:
        report.pages += 1
        rows = _page_rows(client, page, report, known, seen)
        table = _page_table(zone, page, report.pages, report.sync_id, rows, org_names, region, local_tz)
        table = _changed_rows(table, landed)
        if table.num_rows:
            batch_id = f"{report.sync_id}-p{report.pages:05d}"
            report.rows_landed += zone.write_batch(batch_id, table)
            report.batches.append(batch_id)
            landed.update(_versions(table, batch_id))
        if on_page is not None:
            on_page(page, table.num_rows)
    if full_refresh and entity != "deals":
        _reconcile(zone, report, known, seen, landed, allow_mass_deletion=allow_mass_deletion)
    report.stats = SyncStats(
        **{key: value - getattr(stats_before, key) for key, value in vars(client.stats).items()}
    )
    report.cursor_after = zone.max_value("updated_at")
    return report


def _page_rows(
    client: PipedriveClient,
    page: Page,
    report: SyncReport,
    known: dict[str, tuple[datetime | None, bool]],
    seen: set[str],
) -> list[dict[str, Any]]:
    """The API columns of each record of a page, counted as new, updated, unchanged or deleted."""
    rows = []
    for record in page.records:
        record_id = str(record["id"])
        updated_at, problem = parse_timestamp(record.get("update_time"), "UTC")
        if updated_at is None:
            where = f"{page.entity} page {page.number}" + (
                f" at cursor {page.cursor!r}" if page.cursor else " (first page)"
            )
            raise client.malformed(
                where,
                client.base_url + f"/api/v2/{page.entity}",
                f"has record {record_id} without a readable update_time ({problem or 'missing'})",
            )
        is_deleted = bool(record.get("is_deleted")) or record.get("status") == "deleted"
        before = known.get(record_id)
        if before is None:
            if is_deleted:
                report.records_deleted += 1
            else:
                report.records_new += 1
        elif is_deleted and not before[1]:
            report.records_deleted += 1
        elif not is_deleted and (before[1] or before[0] is None or updated_at > before[0]):
            report.records_updated += 1
        else:
            report.records_unchanged += 1
        known[record_id] = (updated_at, is_deleted)
        seen.add(record_id)
        report.records_fetched += 1
        rows.append(
            {
                "record_id": record_id,
                "updated_at": updated_at,
                "is_deleted": is_deleted,
                "record": _JSON.encode(record),
            }
        )
    return rows


def _page_table(
    zone: LandingZone,
    page: Page,
    sequence: int,
    sync_id: str,
    rows: list[dict[str, Any]],
    org_names: Mapping[str, str],
    region: str,
    local_tz: str,
) -> pa.Table:
    n = len(rows)
    columns: dict[str, pa.Array] = {
        "_source": pa.array([SOURCE] * n, pa.string()),
        "_entity": pa.array([page.entity] * n, pa.string()),
        "_sync_id": pa.array([sync_id] * n, pa.string()),
        "_page": pa.array([sequence] * n, pa.int64()),
        "_cursor": pa.array([page.cursor] * n, pa.string()),
    }
    for name in ("record_id", "updated_at", "is_deleted", "record"):
        columns[name] = pa.array([row[name] for row in rows], API_RECORD_SCHEMA.field(name).type)
    if zone.schema is API_CONTACT_RECORD_SCHEMA:
        contacts = person_contacts(page.records, org_names, region=region, local_tz=local_tz)
        for name in _CONTACT_COLUMNS:
            columns[name] = contacts.column(name).combine_chunks()
    return pa.table(columns)


def person_contacts(
    persons: list[dict[str, Any]],
    org_names: Mapping[str, str],
    *,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
) -> pa.Table:
    """The contact columns of persons, in order: name, primary email, primary phone, organization name and
    birthday go through the same ``TableRecords`` as a spreadsheet row, so they are normalised exactly
    alike."""
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
        headers=_PERSON_HEADERS,
        mapping=_PERSON_MAPPING,
        header_row=None,
        where="Pipedrive person ",
        column_name=lambda index: f"column {index + 1}",
    )
    for person in persons:
        texts = [
            str(person["id"]),
            _text(person.get("name")),
            _primary(person.get("emails")),
            _primary(person.get("phones")),
            _organization_name(person, org_names),
            _text(person.get("update_time")),
            _text(person.get("birthday")),
        ]
        # The id is never empty, so no person is skipped as a blank row; it numbers the rejection message.
        number = int(person["id"]) if str(person["id"]).isdigit() else table.report.rows_read + 1
        table.add(number, texts)
    return builder.table()


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _primary(entries: object) -> str | None:
    """The primary entry of Pipedrive's ``emails``/``phones`` list, else the first with a value."""
    if not isinstance(entries, list):
        return _text(entries)
    valued = [e for e in entries if isinstance(e, dict) and _text(e.get("value"))]
    chosen = next((e for e in valued if e.get("primary")), valued[0] if valued else None)
    return _text(chosen["value"]) if chosen else None


def _organization_name(person: Mapping[str, Any], org_names: Mapping[str, str]) -> str | None:
    org = person.get("org_id")
    if isinstance(org, dict):  # v1 shape, or an embedded organization
        return _text(org.get("name")) or org_names.get(str(org.get("value")))
    return _text(person.get("org_name")) or (org_names.get(str(org)) if org is not None else None)


def _latest_indices(table: pa.Table) -> pa.Array:
    """Row indices of the latest version of each record_id: by updated_at, a tie going to the later landing
    (_loaded_at, then _load_id), as staging's latest_api_records orders them."""
    if table.num_rows == 0:
        return pa.array([], pa.int64())
    indexed = table.append_column("_index", pa.array(range(table.num_rows), pa.int64()))
    ordered = indexed.sort_by(
        [
            ("record_id", "ascending"),
            ("updated_at", "descending"),
            ("_loaded_at", "descending"),
            ("_load_id", "descending"),
        ]
    )
    ids = ordered.column("record_id").to_pylist()
    keep = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    return pc.take(ordered.column("_index"), pa.array(keep, pa.int64())).combine_chunks()


@dataclass(frozen=True)
class _Version:
    """The latest landed version of a record: enough to tell an unchanged re-fetch and to find its batch."""

    updated_at: datetime | None
    is_deleted: bool
    load_id: str
    company: str | None = None
    raw_birthday: str | None = None


def _landed_state(zone: LandingZone) -> dict[str, _Version]:
    """The latest landed version of every record, from the version columns alone (and a person's company
    and birthday as given; null in batches landed before persons carried it)."""
    contacts = zone.schema is API_CONTACT_RECORD_SCHEMA
    table = zone.read_columns([*_VERSION_COLUMNS, *_PERSON_STATE] if contacts else _VERSION_COLUMNS)
    latest = table.take(_latest_indices(table))
    return {
        record_id: _Version(updated_at, is_deleted, load_id, *person)
        for record_id, updated_at, is_deleted, load_id, person in zip(
            latest.column("record_id").to_pylist(),
            latest.column("updated_at").to_pylist(),
            latest.column("is_deleted").to_pylist(),
            latest.column("_load_id").to_pylist(),
            _person_states(latest),
            strict=True,
        )
    }


def _person_states(table: pa.Table) -> list[tuple[str | None, ...]]:
    """``_PERSON_STATE`` of each row; all None for a table without contact columns."""
    if _PERSON_STATE[0] not in table.column_names:
        return [(None,) * len(_PERSON_STATE)] * table.num_rows
    return list(zip(*(table.column(name).to_pylist() for name in _PERSON_STATE), strict=True))


def _row_versions(table: pa.Table) -> list[tuple[str, tuple[object, ...]]]:
    """``(record_id, (updated_at, is_deleted, company, raw_birthday))`` of each row of a page table."""
    rows = zip(
        table.column("record_id").to_pylist(),
        table.column("updated_at").to_pylist(),
        table.column("is_deleted").to_pylist(),
        _person_states(table),
        strict=True,
    )
    return [
        (record_id, (updated_at, is_deleted, *person)) for record_id, updated_at, is_deleted, person in rows
    ]


def _changed_rows(table: pa.Table, landed: Mapping[str, _Version]) -> pa.Table:
    """The rows of a page table that differ from the latest landed version of their record (updated_at,
    is_deleted and, for a person, the organization name and birthday it carries): an unchanged re-fetch is
    not landed."""
    keep = []
    for record_id, state in _row_versions(table):
        version = landed.get(record_id)
        keep.append(
            version is None
            or (version.updated_at, version.is_deleted, version.company, version.raw_birthday) != state
        )
    return table.filter(pa.array(keep, pa.bool_()))


def _versions(table: pa.Table, load_id: str) -> dict[str, _Version]:
    """The versions the rows of a page table landed as, in batch ``load_id``."""
    return {record_id: _Version(*state[:2], load_id, *state[2:]) for record_id, state in _row_versions(table)}


def _organization_names(zone: LandingZone) -> dict[str, str]:
    """Current name of every landed, live organization."""
    table = zone.read_columns([*_VERSION_COLUMNS, "record"])
    latest = table.take(_latest_indices(table))
    latest = latest.filter(pc.invert(latest.column("is_deleted")))
    names = {}
    records = zip(latest.column("record_id").to_pylist(), latest.column("record").to_pylist(), strict=True)
    for record_id, record in records:
        name = _text(json.loads(record).get("name"))
        if name:
            names[record_id] = name
    return names


def _reconcile(
    zone: LandingZone,
    report: SyncReport,
    known: dict[str, tuple[datetime | None, bool]],
    seen: set[str],
    landed: Mapping[str, _Version],
    *,
    allow_mass_deletion: bool,
) -> None:
    """After a complete full walk: a landed live person or organization the API no longer lists was
    deleted. Land its last version again with is_deleted set, so staging drops it; refuse (nothing
    tombstoned) when that is more than MASS_DELETION_SHARE of the live records, unless allowed."""
    live = [record_id for record_id, (_, deleted) in known.items() if not deleted]
    gone = sorted(record_id for record_id in live if record_id not in seen)
    check_mass_deletion(f"Pipedrive {zone.entity}", len(gone), len(live), allow=allow_mass_deletion)
    if not gone:
        return
    # A record missing from this walk landed nothing in it, so its latest version is the one found before
    # the walk: read the full rows of just those batches, not the record JSON of every batch.
    by_batch: dict[str, list[str]] = {}
    for record_id in gone:
        by_batch.setdefault(landed[record_id].load_id, []).append(record_id)
    parts = []
    for load_id, ids in sorted(by_batch.items()):
        batch = pq.read_table(zone.batch_path(load_id), schema=zone.schema)
        batch = batch.filter(pc.is_in(batch.column("record_id"), pa.array(ids, pa.string())))
        parts.append(batch.take(_latest_indices(batch)))
    latest = pa.concat_tables(parts)
    sequence = report.pages + 1
    n = latest.num_rows
    tombstones = latest.drop_columns(["_load_id", "_loaded_at"])
    for name, values in (
        ("_sync_id", pa.array([report.sync_id] * n, pa.string())),
        ("_page", pa.array([sequence] * n, pa.int64())),
        ("_cursor", pa.array([None] * n, pa.string())),
        ("is_deleted", pa.array([True] * n, pa.bool_())),
    ):
        tombstones = tombstones.set_column(tombstones.schema.get_field_index(name), name, values)
    batch_id = f"{report.sync_id}-p{sequence:05d}-deletions"
    report.rows_landed += zone.write_batch(batch_id, tombstones)
    report.batches.append(batch_id)
    report.records_deleted += n
    for record_id in gone:
        updated_at, _ = known[record_id]
        known[record_id] = (updated_at, True)
