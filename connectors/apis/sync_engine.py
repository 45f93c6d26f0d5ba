"""The incremental-sync engine every API source shares: pages land one by one, unchanged records are skipped.

A sync of one entity (``SyncAdapter``: how a source walks its pages and reads a record) runs so:

- the cursor comes from what has durably landed (by default the largest ``updated_at`` in the entity's
  batches, from the parquet footers) minus an overlap, so it can never run ahead of written data, and a
  re-run after a crash walks again from the last landed page; a full refresh walks everything;
- every page lands as its own immutable batch (``<sync_id>-p<page>``) before the next is asked for, so a
  sync killed half-way keeps what it landed;
- a fetched record whose ``(updated_at, is_deleted)`` and the adapter's ``state_columns`` equal its latest
  landed version is counted unchanged and not landed again (unless the adapter ``lands_unchanged``), so
  overlaps and nightly full refreshes do not grow the landing zone; staging keeps the latest version per
  record_id by ``updated_at``, a tie going to the later landing (``_loaded_at``, then ``_load_id``), exactly
  as ``latest_indices`` does here;
- a full refresh of an adapter that ``reconciles`` ends, after walking to the end, by landing a tombstone
  (the last landed version with ``is_deleted`` set) for each live landed record the walk no longer listed,
  unless that is more than ``MASS_DELETION_SHARE`` of them (an empty or less-privileged walk): then
  ``MassDeletionError`` is raised and nothing is tombstoned, unless ``allow_mass_deletion``;
- the ``SyncReport`` counts what happened and is what the Dagster asset reports.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.apis.http import SyncStats
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from connectors.core.records import RecordBuilder, TableRecords

__all__ = [
    "MASS_DELETION_SHARE",
    "Fetched",
    "MassDeletionError",
    "Page",
    "SyncAdapter",
    "SyncReport",
    "api_zone",
    "check_mass_deletion",
    "contact_table",
    "latest_indices",
    "new_sync_id",
    "next_updated_since",
    "row_number",
    "run_sync",
    "text_or_none",
]

# A full-refresh reconcile that would tombstone more than this share of the live landed records is refused.
MASS_DELETION_SHARE = 0.2
CONTACT_COLUMNS = [f.name for f in API_CONTACT_RECORD_SCHEMA if f.name not in API_RECORD_SCHEMA.names]
JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The columns that pick the latest landed version of a record (see latest_indices).
_VERSION_COLUMNS = ["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted"]

PageT = TypeVar("PageT")


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


def text_or_none(value: object) -> str | None:
    """A value as stripped text, None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def api_zone(
    landing_dir: Path, source: str, entity: str, *, entities: Sequence[str], contacts: str | None = None
) -> LandingZone:
    """The landing zone of one entity of an API source: ``landing/<source>/<entity>/``; the ``contacts``
    entity (if the source has one) carries the contact columns too."""
    if entity not in entities:
        raise ValueError(f"unknown {source} entity {entity!r}; expected one of {', '.join(entities)}")
    schema = API_CONTACT_RECORD_SCHEMA if entity == contacts else API_RECORD_SCHEMA
    return LandingZone(landing_dir, source, entity, schema)


def contact_table(
    source: str,
    headers: list[str],
    mapping: dict[int, str],
    rows: Iterable[tuple[int, list[str | None], str | None]],
    *,
    where: str,
    region: str,
    local_tz: str,
) -> pa.Table:
    """The contact columns of API records, one row per ``(row number, cells, raw_row)``, through the same
    ``TableRecords`` as a spreadsheet row, so they are normalised exactly alike. The first cell is the
    record's id, never empty, so no record is skipped as a blank row."""
    builder = RecordBuilder(
        source=source,
        relative_file="",
        region=region,
        local_tz=local_tz,
        id_key=lambda _sheet, value: value,
        row_key=lambda _sheet, number: str(number),
    )
    table = TableRecords(
        builder,
        sheet=None,
        headers=headers,
        mapping=mapping,
        header_row=None,
        where=where,
        column_name=lambda index: f"column {index + 1}",
    )
    for number, texts, raw_row in rows:
        table.add(number, texts, raw_row=raw_row)
    return builder.table()


def row_number(record_id: str, position: int) -> int:
    """The row number a rejection message names: the id when it is a number, else the position (1-based)."""
    return int(record_id) if record_id.isdigit() else position


def new_sync_id(now: datetime | None = None) -> str:
    """Sortable and unique: ``20250101T102000123456Z-1a2b3c4d``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def next_updated_since(zone: LandingZone, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
    """``(cursor, updated_since)``: the latest landed ``updated_at`` and the lower bound of the next walk."""
    cursor = zone.max_value("updated_at")
    if cursor is None:
        return None, None
    return cursor, cursor - overlap


def latest_indices(table: pa.Table) -> pa.Array:
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

    def window(self) -> dict[str, datetime | None]:
        """The bounds of the walk, as the metadata names them."""
        return {"updated_since": self.updated_since}

    def as_metadata(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "sync_id": self.sync_id,
            "full_refresh": self.full_refresh,
            "cursor_before": when(self.cursor_before),
            **{name: when(moment) for name, moment in self.window().items()},
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


@dataclass(frozen=True)
class Page:
    """One page of one cursor walk of an entity, as the API clients yield it.

    ``cursor`` is the cursor this page was requested with (``None`` for the first page of a walk) and
    ``next_cursor`` the one the API handed back (``None`` when it had no more); ``params`` are the filters
    that say which walk this is, enough to tell where a landed batch came from. ``is_last`` is whether the
    walk ends with this page: by default when there is no next cursor, unless the client says otherwise
    (a HubSpot walk of live records goes on with the archived ones). ``duplicates`` counts records left
    out because an earlier query of the same walk already yielded them (HubSpot's search restarts).
    """

    entity: str
    number: int
    cursor: str | None
    next_cursor: str | None
    records: list[dict[str, Any]]
    params: dict[str, str] = field(default_factory=dict)
    ends_walk: bool | None = None
    duplicates: int = 0

    @property
    def is_last(self) -> bool:
        return self.next_cursor is None if self.ends_walk is None else self.ends_walk


@dataclass(frozen=True)
class Fetched:
    """One record of a page as the engine sees it: its id, update time, deletion and the record itself."""

    record_id: str
    updated_at: datetime
    is_deleted: bool
    record: Mapping[str, Any]


@dataclass(frozen=True)
class _Version:
    """The latest landed version of a record: enough to tell an unchanged re-fetch and to find its batch."""

    updated_at: datetime | None
    is_deleted: bool
    load_id: str
    state: tuple[object, ...] = ()


class SyncAdapter(Generic[PageT]):
    """What one source contributes to a sync of one entity: how to walk its pages and read their records.

    Subclasses set ``label`` (``"Pipedrive persons"``, for messages), ``zone`` and ``stats`` (the client's
    counters), and implement ``pages``, ``records``, ``fetched`` and ``cursor_text``; the rest has
    defaults. ``contacts`` fills the normalised contact columns of a contact zone.
    """

    label: str
    zone: LandingZone
    stats: SyncStats
    # Contact columns whose change makes a re-fetch with the same update time a new version.
    state_columns: ClassVar[tuple[str, ...]] = ()
    # Whether a full refresh that walked to the end tombstones the live records it did not see.
    reconciles: bool = False
    # Whether a re-fetch landed again only for its state columns counts as updated (else unchanged).
    state_counts_as_update: ClassVar[bool] = True
    # Land every fetched record, changed or not (counting is unaffected).
    lands_unchanged: ClassVar[bool] = False
    # When several syncs share one zone: the ``_entity`` of this one's rows.
    entity_value: str | None = None

    def cursor(self, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
        """``(cursor_before, updated_since)`` of an incremental walk."""
        return next_updated_since(self.zone, overlap)

    def new_report(
        self, sync_id: str, full_refresh: bool, cursor_before: datetime | None, since: datetime | None
    ) -> SyncReport:
        return SyncReport(self.zone.entity, sync_id, full_refresh, cursor_before, since)

    def prepare(self, updated_since: datetime | None) -> None:
        """Called once before the walk (after the report's counters start)."""

    def pages(self, updated_since: datetime | None) -> Iterable[PageT]:
        raise NotImplementedError

    def records(self, page: PageT) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fetched(self, page: PageT, record: Mapping[str, Any]) -> Fetched:
        """A record's id, update time and deletion; raises ``MalformedResponseError`` naming the page
        when it cannot be read."""
        raise NotImplementedError

    def entity_of(self, page: PageT) -> str:
        """``_entity`` of a page's rows."""
        return self.entity_value or self.zone.entity

    def cursor_text(self, page: PageT) -> str | None:
        """``_cursor`` of a page's rows: where in which walk the page was requested."""
        raise NotImplementedError

    def contacts(self, page: PageT, records: list[dict[str, Any]]) -> pa.Table:
        """The contact columns of a page's records, in order (contact zones only)."""
        raise NotImplementedError

    def links_changed(self, page: PageT, fetched: Fetched) -> bool:
        """Whether something the version columns do not hold changed (HubSpot's associations)."""
        return False

    def landed(self, page: PageT, fetched: Fetched) -> None:
        """Called for every record that lands."""

    def finish(self, report: SyncReport) -> None:
        """Called after the walk (and the reconcile): sets ``cursor_after``."""
        report.cursor_after = self.zone.max_value("updated_at")


def run_sync(
    adapter: SyncAdapter[PageT],
    *,
    overlap: timedelta,
    full_refresh: bool = False,
    allow_mass_deletion: bool = False,
    on_page: Callable[[PageT, int], None] | None = None,
) -> SyncReport:
    """Land every record of the adapter's entity changed since the landed cursor (all of them on a full
    refresh), page by page; ``on_page`` is called with each page and the rows landed for it."""
    zone = adapter.zone
    zone.prepare()
    cursor_before, updated_since = adapter.cursor(overlap)
    if full_refresh:
        updated_since = None
    report = adapter.new_report(new_sync_id(), full_refresh, cursor_before, updated_since)
    stats_before = SyncStats(**vars(adapter.stats))
    adapter.prepare(updated_since)
    landed = _landed_versions(adapter)
    live_before = {record_id for record_id, version in landed.items() if not version.is_deleted}
    seen: set[str] = set()
    for page in adapter.pages(updated_since):
        report.pages += 1
        rows = _land_page(adapter, page, report, landed, seen)
        if on_page is not None:
            on_page(page, rows)
    if full_refresh and adapter.reconciles:
        _reconcile(adapter, report, live_before, seen, landed, allow_mass_deletion=allow_mass_deletion)
    report.stats = SyncStats(
        **{key: value - getattr(stats_before, key) for key, value in vars(adapter.stats).items()}
    )
    adapter.finish(report)
    return report


def _land_page(
    adapter: SyncAdapter[PageT],
    page: PageT,
    report: SyncReport,
    landed: dict[str, _Version],
    seen: set[str],
) -> int:
    """Count every record of a page as new, updated, unchanged or deleted and land those that changed as
    one batch; the rows landed."""
    records = adapter.records(page)
    fetched = [adapter.fetched(page, record) for record in records]
    contacts = adapter.contacts(page, records) if adapter.zone.schema is API_CONTACT_RECORD_SCHEMA else None
    states = _states(contacts, adapter.state_columns, len(records))
    batch_id = f"{report.sync_id}-p{report.pages:05d}"
    keep = []
    for item, state in zip(fetched, states, strict=True):
        before = landed.get(item.record_id)
        same_version = before is not None and (before.updated_at, before.is_deleted) == (
            item.updated_at,
            item.is_deleted,
        )
        unchanged = same_version and before.state == state and not adapter.links_changed(page, item)
        report.records_fetched += 1
        seen.add(item.record_id)
        if unchanged or (same_version and not adapter.state_counts_as_update):
            report.records_unchanged += 1
        elif item.is_deleted:
            report.records_deleted += 1
        elif before is None:
            report.records_new += 1
        else:
            report.records_updated += 1
        if unchanged and not adapter.lands_unchanged:
            keep.append(False)
            continue
        keep.append(True)
        landed[item.record_id] = _Version(item.updated_at, item.is_deleted, batch_id, state)
        adapter.landed(page, item)
    indices = [i for i, kept in enumerate(keep) if kept]
    if not indices:
        return 0
    table = _page_table(adapter, page, report, [fetched[i] for i in indices])
    if contacts is not None:
        chosen = contacts.take(pa.array(indices, pa.int64()))
        for name in CONTACT_COLUMNS:
            table = table.append_column(name, chosen.column(name).combine_chunks())
    return _write(adapter.zone, batch_id, table, report)


def _write(zone: LandingZone, batch_id: str, table: pa.Table, report: SyncReport) -> int:
    rows = zone.write_batch(batch_id, table)
    report.rows_landed += rows
    report.batches.append(batch_id)
    return rows


def _page_table(
    adapter: SyncAdapter[PageT], page: PageT, report: SyncReport, rows: list[Fetched]
) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "_source": pa.array([adapter.zone.source] * n, pa.string()),
            "_entity": pa.array([adapter.entity_of(page)] * n, pa.string()),
            "_sync_id": pa.array([report.sync_id] * n, pa.string()),
            "_page": pa.array([report.pages] * n, pa.int64()),
            "_cursor": pa.array([adapter.cursor_text(page)] * n, pa.string()),
            "record_id": pa.array([row.record_id for row in rows], pa.string()),
            "updated_at": pa.array(
                [row.updated_at for row in rows], API_RECORD_SCHEMA.field("updated_at").type
            ),
            "is_deleted": pa.array([row.is_deleted for row in rows], pa.bool_()),
            "record": pa.array([JSON.encode(row.record) for row in rows], pa.string()),
        }
    )


def _states(contacts: pa.Table | None, columns: tuple[str, ...], n: int) -> list[tuple[object, ...]]:
    """The ``state_columns`` of each record of a page; ``()`` each when it has none."""
    if contacts is None or not columns:
        return [()] * n
    return list(zip(*(contacts.column(name).to_pylist() for name in columns), strict=True))


def _landed_versions(adapter: SyncAdapter[Any]) -> dict[str, _Version]:
    """The latest landed version of every record of this sync, from the version columns alone (and the
    adapter's state columns; null in batches landed before they were carried)."""
    zone = adapter.zone
    state_columns = list(adapter.state_columns) if zone.schema is API_CONTACT_RECORD_SCHEMA else []
    names = [*_VERSION_COLUMNS, *state_columns]
    table = zone.read_columns([*names, "_entity"] if adapter.entity_value else names)
    if adapter.entity_value:
        table = table.filter(pc.equal(table.column("_entity"), adapter.entity_value))
    latest = table.take(latest_indices(table))
    states = (
        list(zip(*(latest.column(name).to_pylist() for name in state_columns), strict=True))
        if state_columns
        else [()] * latest.num_rows
    )
    return {
        record_id: _Version(updated_at, is_deleted, load_id, state)
        for record_id, updated_at, is_deleted, load_id, state in zip(
            latest.column("record_id").to_pylist(),
            latest.column("updated_at").to_pylist(),
            latest.column("is_deleted").to_pylist(),
            latest.column("_load_id").to_pylist(),
            states,
            strict=True,
        )
    }


def _reconcile(
    adapter: SyncAdapter[Any],
    report: SyncReport,
    live_before: set[str],
    seen: set[str],
    landed: Mapping[str, _Version],
    *,
    allow_mass_deletion: bool,
) -> None:
    """After a complete full walk: a landed live record the API no longer lists was deleted. Land its last
    version again with is_deleted set, so staging drops it; refuse (nothing tombstoned) when that is more
    than MASS_DELETION_SHARE of the live records, unless allowed."""
    zone = adapter.zone
    live = {record_id for record_id in live_before | seen if not landed[record_id].is_deleted}
    gone = sorted(live - seen)
    check_mass_deletion(adapter.label, len(gone), len(live), allow=allow_mass_deletion)
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
        mine = pc.is_in(batch.column("record_id"), pa.array(ids, pa.string()))
        if adapter.entity_value:
            mine = pc.and_(mine, pc.equal(batch.column("_entity"), adapter.entity_value))
        batch = batch.filter(mine)
        parts.append(batch.take(latest_indices(batch)))
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
    _write(zone, f"{report.sync_id}-p{sequence:05d}-deletions", tombstones, report)
    report.records_deleted += n
