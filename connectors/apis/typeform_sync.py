"""Incremental Typeform syncs into the landing zone: one immutable batch per page, safe to re-run.

A sync of one form walks ``GET /forms/{form_id}/responses`` (completed responses) between ``since`` and an
``until`` fixed when the walk starts, and lands every page as its own batch (``<sync_id>-p<page>``) in
``landing/typeform/responses/`` before asking for the next. The form id of a response is its ``_entity``
(Typeform's response JSON does not carry it), so staging and the contact union name the form a response
came from.

Typeform pages come newest first, so a walk killed half-way has landed the newest responses and none of the
older ones: the largest landed ``submitted_at`` says nothing about what is complete. The cursor therefore
comes from the walks, not the responses: after the last page of a walk a one-row marker batch lands in
``landing/typeform/walks/`` holding the walk's ``until`` as ``updated_at`` (``record_id`` and ``_entity`` are
the form id, ``record`` the walk's filters and counts). The next walk starts at the ``until`` of the last
complete walk of that form minus the overlap, so a killed walk is walked again from the same place and the
older responses it never reached are fetched. Responses fetched twice land twice; staging keeps one version
per record_id.

A full refresh walks every response; after it completes, a landed response the form no longer lists
(deleted in Typeform) lands again as a tombstone (``is_deleted`` set), so staging drops it. When more than
a fifth of the live landed responses of the form would be tombstoned (an empty walk, a wrong form), the
sync raises ``MassDeletionError`` instead and tombstones nothing, unless ``allow_mass_deletion`` is set.

The contact columns come from the same ``TableRecords`` the file readers use: the answers, keyed by field
ref (hidden fields as ``hidden.<name>``), are the columns, and ``map_headers`` finds name, email, phone,
company, marketing consent and birthday (a date question such as "생년월일" or ref ``birthday``) among the
refs, then, for fields no ref named, among the question titles. Every other answer goes to ``attributes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.apis.http import SyncStats
from connectors.apis.pipedrive_sync import check_mass_deletion, new_sync_id
from connectors.apis.typeform import HIDDEN_PREFIX, Page, TypeformClient, answers_by_ref, form_fields
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from connectors.core.normalize import cell_text, parse_timestamp
from connectors.core.records import RecordBuilder, TableRecords
from connectors.files.headers import SynonymTable, map_headers

__all__ = [
    "SOURCE",
    "TypeformSyncReport",
    "last_complete_until",
    "response_contacts",
    "responses_zone",
    "sync_form",
    "walks_zone",
]

SOURCE = "typeform"
# record_id and record_at are the response's token and submitted_at, never an answer (a hidden
# ``customer_id`` names an id, but not this record's).
_RESERVED_FIELDS = frozenset({"record_id", "record_at"})
_CONTACT_COLUMNS = [f.name for f in API_CONTACT_RECORD_SCHEMA if f.name not in API_RECORD_SCHEMA.names]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def responses_zone(landing_dir: Path) -> LandingZone:
    """Where responses land, every form together (``_entity`` is the form id)."""
    return LandingZone(landing_dir, SOURCE, "responses", API_CONTACT_RECORD_SCHEMA)


def walks_zone(landing_dir: Path) -> LandingZone:
    """Where a marker lands after each complete walk; it is what the next walk's ``since`` comes from."""
    return LandingZone(landing_dir, SOURCE, "walks", API_RECORD_SCHEMA)


@dataclass
class TypeformSyncReport:
    """What one walk of one form did; ``as_metadata`` is what the asset reports for that form."""

    form_id: str
    sync_id: str
    full_refresh: bool
    cursor_before: datetime | None
    since: datetime | None
    until: datetime
    cursor_after: datetime | None = None
    walk_complete: bool = False
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
            "since": when(self.since),
            "until": when(self.until),
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


def last_complete_until(walks: LandingZone, form_id: str) -> datetime | None:
    """The ``until`` of the last complete walk of ``form_id``, or None when no walk of it ever completed."""
    table = walks.read_columns(["_entity", "updated_at"])
    mine = table.filter(pc.equal(table.column("_entity"), form_id)).column("updated_at")
    return pc.max(mine).as_py() if len(mine) else None


def sync_form(
    client: TypeformClient,
    responses: LandingZone,
    walks: LandingZone,
    form_id: str,
    *,
    overlap: timedelta,
    full_refresh: bool = False,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
    on_page: Callable[[Page, int], None] | None = None,
    allow_mass_deletion: bool = False,
) -> TypeformSyncReport:
    """Land every completed response of ``form_id`` submitted since the last complete walk (all of them on
    a full refresh) up to now, then record the walk as complete. ``on_page`` is called with each page and
    the rows landed for it. A full refresh tombstones the landed responses the form no longer lists, but
    refuses (``MassDeletionError``, nothing tombstoned, the walk not recorded as complete) when they are
    more than ``pipedrive_sync.MASS_DELETION_SHARE`` of the live ones, unless ``allow_mass_deletion``."""
    responses.prepare()
    walks.prepare()
    # Typeform bounds are whole seconds; the marker records exactly the bound that was sent.
    until = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cursor_before = last_complete_until(walks, form_id)
    since = None if full_refresh or cursor_before is None else cursor_before - overlap
    report = TypeformSyncReport(form_id, new_sync_id(), full_refresh, cursor_before, since, until)
    stats_before = SyncStats(**vars(client.stats))
    columns = _form_columns(client.get_form(form_id))
    known = _landed_state(responses, form_id)
    seen: set[str] = set()
    for page in client.iter_pages(form_id, since=since, until=until):
        report.pages += 1
        rows = _page_rows(client, page, report, known, seen)
        try:
            contacts = response_contacts(
                page.items,
                columns,
                where=f"Typeform form {form_id} page {page.number} response ",
                region=region,
                local_tz=local_tz,
                synonyms=synonyms,
            )
        except ValueError as error:  # an answer without a field or a value: nothing of this page lands
            raise client.malformed(_page_name(page), _responses_url(client, page), f"has {error}") from None
        table = _page_table(page, report.pages, report.sync_id, rows, contacts)
        if table.num_rows:
            batch_id = f"{report.sync_id}-p{report.pages:05d}"
            report.rows_landed += responses.write_batch(batch_id, table)
            report.batches.append(batch_id)
        if on_page is not None:
            on_page(page, table.num_rows)
    if full_refresh:
        _reconcile(responses, report, known, seen, allow_mass_deletion=allow_mass_deletion)
    report.stats = SyncStats(
        **{key: value - getattr(stats_before, key) for key, value in vars(client.stats).items()}
    )
    _mark_complete(walks, report)
    return report


def _mark_complete(walks: LandingZone, report: TypeformSyncReport) -> None:
    summary = {
        "form_id": report.form_id,
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat(),
        "full_refresh": report.full_refresh,
        "pages": report.pages,
        "records_fetched": report.records_fetched,
    }
    row = {
        "_source": SOURCE,
        "_entity": report.form_id,
        "_sync_id": report.sync_id,
        "_page": report.pages,
        "_cursor": None,
        "record_id": report.form_id,
        "updated_at": report.until,
        "is_deleted": False,
        "record": _JSON.encode(summary),
    }
    walks.write_batch(f"{report.sync_id}-walk", [row])
    report.walk_complete = True
    report.cursor_after = report.until


def _form_columns(form: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """``(key, title)`` of every column a response of this form can have, in form order: the questions by
    ref (groups opened), then the hidden fields as ``hidden.<name>``."""
    columns = [
        (
            str(item.get("ref") or item.get("id")),
            item.get("title") if isinstance(item.get("title"), str) else None,
        )
        for item in form_fields(form)
        if item.get("ref") or item.get("id")
    ]
    columns += [
        (f"{HIDDEN_PREFIX}{name}", None) for name in form.get("hidden") or [] if isinstance(name, str)
    ]
    return list(dict.fromkeys(columns))


def response_contacts(
    items: list[dict[str, Any]],
    columns: list[tuple[str, str | None]],
    *,
    where: str = "Typeform response ",
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """The contact columns of responses, in order, through the same ``TableRecords`` as a spreadsheet row.

    ``columns`` are the form's ``(ref, title)`` pairs; an answer to a field the form no longer has is a
    column too, keyed by its ref. Hidden fields come after the questions, so an answered email beats a
    hidden one.
    """
    answers = [answers_by_ref(item) for item in items]
    keys = [key for key, _ in columns]
    extra = [key for mapped in answers for key in mapped if key not in keys]
    keys += list(dict.fromkeys(extra))
    titles = dict(columns)
    mapping = _contact_mapping(keys, [titles.get(key) for key in keys], synonyms)
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
        headers=["token", "submitted_at", *keys],
        mapping={0: "record_id", 1: "record_at", **{index + 2: name for index, name in mapping.items()}},
        header_row=None,
        where=where,
        column_name=lambda index: f"column {index + 1}",
    )
    for number, (item, mapped) in enumerate(zip(items, answers, strict=True), start=1):
        texts = [
            _item_token(item),
            _text(item.get("submitted_at")),
            *(_text(mapped.get(key)) for key in keys),
        ]
        table.add(number, texts, raw_row=_JSON.encode(mapped))
    return builder.table()


def _contact_mapping(
    keys: list[str],
    titles: list[str | None],
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None,
) -> dict[int, str]:
    """``{column index: field}``, each round filling only the fields still unnamed: the question refs as
    header cells, then the question titles (a ref such as ``a1b2c3`` says nothing, its title "이메일 주소"
    does), then the names of the hidden fields, so an answered email always beats a hidden one."""
    hidden = [key.startswith(HIDDEN_PREFIX) for key in keys]
    rounds = [
        [None if is_hidden else key for key, is_hidden in zip(keys, hidden, strict=True)],
        [None if is_hidden else title for title, is_hidden in zip(titles, hidden, strict=True)],
        [
            key.removeprefix(HIDDEN_PREFIX) if is_hidden else None
            for key, is_hidden in zip(keys, hidden, strict=True)
        ],
    ]
    mapping: dict[int, str] = {}
    for headers in rounds:
        for index, name in map_headers(headers, synonyms).items():
            if name not in _RESERVED_FIELDS and name not in mapping.values() and index not in mapping:
                mapping[index] = name
    return dict(sorted(mapping.items()))


def _page_rows(
    client: TypeformClient,
    page: Page,
    report: TypeformSyncReport,
    known: dict[str, datetime | None],
    seen: set[str],
) -> list[dict[str, Any]]:
    rows = []
    for item in page.items:
        record_id = _item_token(item)
        submitted_at, problem = parse_timestamp(item.get("submitted_at"), "UTC")
        if submitted_at is None:
            raise client.malformed(
                _page_name(page),
                _responses_url(client, page),
                f"has response {record_id} without a readable submitted_at ({problem or 'missing'})",
            )
        if record_id not in known:
            report.records_new += 1
        elif known[record_id] is None or submitted_at > known[record_id]:
            report.records_updated += 1
        else:
            report.records_unchanged += 1
        known[record_id] = submitted_at
        seen.add(record_id)
        report.records_fetched += 1
        rows.append(
            {
                "record_id": record_id,
                "updated_at": submitted_at,
                "is_deleted": False,
                "record": _JSON.encode(item),
            }
        )
    return rows


def _page_table(
    page: Page, sequence: int, sync_id: str, rows: list[dict[str, Any]], contacts: pa.Table
) -> pa.Table:
    n = len(rows)
    columns: dict[str, pa.Array] = {
        "_source": pa.array([SOURCE] * n, pa.string()),
        "_entity": pa.array([page.form_id] * n, pa.string()),
        "_sync_id": pa.array([sync_id] * n, pa.string()),
        "_page": pa.array([sequence] * n, pa.int64()),
        "_cursor": pa.array([page.before] * n, pa.string()),
    }
    for name in ("record_id", "updated_at", "is_deleted", "record"):
        columns[name] = pa.array([row[name] for row in rows], API_RECORD_SCHEMA.field(name).type)
    for name in _CONTACT_COLUMNS:
        columns[name] = contacts.column(name).combine_chunks()
    return pa.table(columns)


def _form_rows(zone: LandingZone, form_id: str, columns: list[str]) -> pa.Table:
    table = zone.read_columns(list(dict.fromkeys(["_entity", *columns])))
    return table.filter(pc.equal(table.column("_entity"), form_id))


def _latest(table: pa.Table) -> pa.Table:
    """The latest landed version of each record_id: by updated_at, a tie going to the later landing
    (_loaded_at, then _load_id), as staging's latest_api_records orders them."""
    ordered = table.sort_by(
        [
            ("record_id", "ascending"),
            ("updated_at", "descending"),
            ("_loaded_at", "descending"),
            ("_load_id", "descending"),
        ]
    )
    ids = ordered.column("record_id").to_pylist()
    keep = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    return ordered.take(pa.array(keep, pa.int64()))


def _landed_state(zone: LandingZone, form_id: str) -> dict[str, datetime | None]:
    """``{record_id: submitted_at}`` of every live landed response of the form."""
    latest = _latest(
        _form_rows(zone, form_id, ["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted"])
    )
    live = latest.filter(pc.invert(latest.column("is_deleted")))
    return dict(zip(live.column("record_id").to_pylist(), live.column("updated_at").to_pylist(), strict=True))


def _reconcile(
    zone: LandingZone,
    report: TypeformSyncReport,
    known: dict[str, datetime | None],
    seen: set[str],
    *,
    allow_mass_deletion: bool,
) -> None:
    """After a complete full walk: a landed live response the form no longer lists was deleted in
    Typeform. Land its last version again with is_deleted set, so staging drops it; refuse (nothing
    tombstoned) when that is more than MASS_DELETION_SHARE of the live responses, unless allowed."""
    gone = sorted(record_id for record_id in known if record_id not in seen)
    what = f"Typeform form {report.form_id}"
    check_mass_deletion(what, len(gone), len(known), allow=allow_mass_deletion)
    if not gone:
        return
    latest = _latest(_form_rows(zone, report.form_id, zone.schema.names))
    latest = latest.filter(pc.is_in(latest.column("record_id"), pa.array(gone, pa.string())))
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


def _page_name(page: Page) -> str:
    return f"responses of form {page.form_id!r} page {page.number} " + (
        f"before token {page.before!r}" if page.before else "(first page)"
    )


def _responses_url(client: TypeformClient, page: Page) -> str:
    return client.base_url + f"/forms/{page.form_id}/responses"


def _item_token(item: Mapping[str, Any]) -> str:
    """The response's id: ``response_id``, else ``token`` (the client refuses items with neither)."""
    return str(item.get("response_id") or item.get("token"))


def _text(value: object) -> str | None:
    """An answer as cell text: choices and other structures as compact JSON, booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _JSON.encode(value) if value else None
    return cell_text(value)
