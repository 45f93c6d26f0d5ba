"""Typeform client: form definitions and responses of one form, page by page.

``GET /forms/{form_id}`` returns the definition (``fields`` with ``id``, ``ref``, ``type``, ``title``;
``hidden`` field names). ``GET /forms/{form_id}/responses`` is walked the way Typeform's own SDK walks
it: ``page_size`` up to 1000 and, for every page after the first, ``before=<the last item's id>``. A
token switches Typeform to the order its system processed the responses, so the whole set is walked
newest first without repeats; the walk ends at a page shorter than ``page_size``. ``sort`` cannot be
combined with a token and is never sent; the ``page`` parameter is not used.

``since`` and ``until`` bound ``submitted_at`` (inclusive, UTC to the second). Because pages arrive
newest first, a sync may advance its cursor only after the walk has reached its last page.

Typeform allows about two requests a second, so the client spaces its requests (``request_interval``).
Responses come back exactly as Typeform sends them; ``answers_by_ref`` is the one reshaping helper.

``sync_form`` lands the completed responses of one form through the sync engine (``sync_engine``) in
``landing/typeform/responses/``, every form together: the form id is a response's ``_entity`` (Typeform's
response JSON does not carry it). Each walk runs between ``since`` and an ``until`` fixed when it starts.
Pages come newest first, so a walk killed half-way has landed the newest responses and none of the older
ones: the largest landed ``submitted_at`` says nothing about what is complete. The cursor therefore comes
from the walks, not the responses: after the last page of a walk a one-row marker batch lands in
``landing/typeform/walks/`` holding the walk's ``until`` as ``updated_at`` (``record_id`` and ``_entity`` are
the form id, ``record`` the walk's filters and counts). The next walk starts at the ``until`` of the last
complete walk of that form minus the overlap, so a killed walk is walked again from the same place and the
older responses it never reached are fetched. Responses fetched twice land twice; staging keeps one version
per record_id. A full refresh reconciles deleted responses (tombstones, with the engine's mass-deletion
guard; a refused reconcile leaves the walk unrecorded).

The contact columns come from the same ``TableRecords`` the file readers use: the answers, keyed by field
ref (hidden fields as ``hidden.<name>``), are the columns, and ``map_headers`` finds name, email, phone,
company, marketing consent and birthday (a date question such as "생년월일" or ref ``birthday``) among the
refs, then, for fields no ref named, among the question titles. Every other answer goes to ``attributes``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import SecretStr

from connectors.apis.http import ApiClient, ApiError, AuthError, page_name
from connectors.apis.sync_engine import (
    JSON,
    Fetched,
    SyncAdapter,
    SyncReport,
    contact_table,
    run_sync,
)
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from connectors.core.normalize import cell_text, parse_timestamp
from connectors.files.headers import SynonymTable, map_headers

__all__ = [
    "DEFAULT_BASE_URL",
    "FORM_IDS_SETTING",
    "MAX_PAGE_SIZE",
    "TOKEN_SETTING",
    "FormNotFoundError",
    "Page",
    "TypeformClient",
    "TypeformSyncReport",
    "answer_value",
    "answers_by_ref",
    "form_fields",
    "last_complete_until",
    "response_contacts",
    "responses_zone",
    "sync_form",
    "typeform_time",
    "walks_zone",
]

SOURCE = "typeform"

DEFAULT_BASE_URL = "https://api.typeform.com"
TOKEN_SETTING = "DRIPLINE_TYPEFORM_TOKEN"
FORM_IDS_SETTING = "DRIPLINE_TYPEFORM_FORM_IDS"
MAX_PAGE_SIZE = 1000
REQUIRED_SCOPES = ("forms:read", "responses:read")
HIDDEN_PREFIX = "hidden."
_FORM_ID = re.compile(r"[A-Za-z0-9_-]+")


class FormNotFoundError(ApiError):
    """Typeform answered 404 for a form: the id is wrong, the form was deleted or the token cannot see it."""


@dataclass(frozen=True)
class Page:
    """One page of the responses of one form.

    ``before`` is the token this page was requested with (``None`` for the first page) and
    ``next_before`` the one the next page will be requested with (``None`` on the last page);
    ``total_items`` and ``page_count`` are Typeform's own counts, as sent. ``params`` are the filters
    of the walk (``since``, ``until``, ``completed``), enough to say where a landed batch came from.
    """

    form_id: str
    number: int
    before: str | None
    next_before: str | None
    items: list[dict[str, Any]]
    total_items: int | None = None
    page_count: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_last(self) -> bool:
        return self.next_before is None


class TypeformClient(ApiClient):
    """Read-only Typeform client authenticated by a personal token (``Authorization: Bearer``).

    The token needs the scopes ``forms:read`` and ``responses:read``. ``page_size`` may be 1 to 1000
    (Typeform's maximum); a larger value is refused here, before any call.
    """

    service = "Typeform"
    default_token_setting = TOKEN_SETTING
    max_page_size = MAX_PAGE_SIZE

    def __init__(
        self, base_url: str, token: SecretStr, *, request_interval: float = 0.5, **options: Any
    ) -> None:
        """``options`` are ``ApiClient``'s (page_size, timeout, retries)."""
        if request_interval < 0:
            raise ValueError("request_interval must be 0 or more seconds")
        super().__init__(base_url, token, **options)
        self.request_interval = request_interval
        self._last_request: float | None = None

    def get_form(self, form_id: str) -> dict[str, Any]:
        """The form definition as Typeform sends it (see ``form_fields`` for its fields, groups opened)."""
        path = f"/forms/{_check_form_id(form_id)}"
        page = f"form {form_id!r} definition"
        body = self._get(path, None, page=page, form_id=form_id)
        fields = body.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(item, dict) for item in fields):
            raise self.malformed(page, self.base_url + path, "has fields that are not a list of objects")
        hidden = body.get("hidden", [])
        if not isinstance(hidden, list):
            raise self.malformed(page, self.base_url + path, "has hidden that is not a list of names")
        return body

    def iter_pages(
        self,
        form_id: str,
        *,
        since: datetime | str | int | None = None,
        until: datetime | str | int | None = None,
        completed: bool | None = True,
    ) -> Iterator[Page]:
        """Yield every page of the responses of ``form_id``, newest first.

        ``completed=True`` (the default) asks for submitted responses only, ``False`` for partial ones
        and ``None`` leaves Typeform's default. Each page is yielded as soon as it has been read, so a
        caller can land it before the next call.
        """
        path = f"/forms/{_check_form_id(form_id)}/responses"
        filters: dict[str, str] = {}
        if since is not None:
            filters["since"] = typeform_time(since)
        if until is not None:
            filters["until"] = typeform_time(until)
        if completed is not None:
            filters["completed"] = "true" if completed else "false"

        def read(before: str | None, number: int) -> tuple[Page, str | None, str]:
            query: dict[str, Any] = {**filters, "page_size": self.page_size}
            if before is not None:
                query["before"] = before
            walk = f"responses of form {form_id!r}"
            where = page_name(walk, number, before, "before token", filters=filters)
            body = self._get(path, query, page=where, form_id=form_id)
            items, total_items, page_count = self._read_page(body, where, path)
            next_before = _item_token(items[-1]) if len(items) >= self.page_size else None
            page = Page(form_id, number, before, next_before, items, total_items, page_count, dict(filters))
            return page, next_before, where

        yield from self.walk_cursor(
            read,
            url=self.base_url + path,
            repeated="ends with response {cursor}, which this walk has already paged before",
        )

    def iter_records(
        self,
        form_id: str,
        *,
        since: datetime | str | int | None = None,
        until: datetime | str | int | None = None,
        completed: bool | None = True,
    ) -> Iterator[dict[str, Any]]:
        """Every response of ``form_id``, newest first, as Typeform sends it."""
        for page in self.iter_pages(form_id, since=since, until=until, completed=completed):
            yield from page.items

    def _get(self, path: str, params: Mapping[str, Any] | None, *, page: str, form_id: str) -> dict[str, Any]:
        self._wait_for_turn()
        try:
            return self.get_json(path, params, page=page)
        except AuthError as exc:
            raise AuthError(
                f"{exc} A Typeform personal token needs the scopes {' and '.join(REQUIRED_SCOPES)}.",
                url=exc.url,
                status=exc.status,
            ) from None
        except ApiError as exc:
            if exc.status != 404:
                raise
            raise FormNotFoundError(
                f"Typeform has no form {form_id!r} that this token can read ({exc}); check "
                f"{FORM_IDS_SETTING} and that the form belongs to the account of {self.token_setting}.",
                url=exc.url,
                status=exc.status,
            ) from None

    def _wait_for_turn(self) -> None:
        if self._last_request is not None and self.request_interval:
            remaining = self._last_request + self.request_interval - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        self._last_request = time.monotonic()

    def _read_page(
        self, body: dict[str, Any], page: str, path: str
    ) -> tuple[list[dict[str, Any]], int | None, int | None]:
        url = self.base_url + path
        items = body.get("items")
        if not isinstance(items, list):
            raise self.malformed(page, url, f"has items of type {type(items).__name__}, expected a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict) or _item_token(item) is None:
                raise self.malformed(page, url, f"has items[{index}] that is not a response with a token")
            answers = item.get("answers")
            if answers is not None and not isinstance(answers, list):
                raise self.malformed(page, url, f"has items[{index}].answers that is not a list")
        counts = []
        for key in ("total_items", "page_count"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise self.malformed(page, url, f"has {key} {value!r}, expected a number")
            counts.append(value)
        return items, counts[0], counts[1]


def answer_value(answer: Mapping[str, Any]) -> object:
    """The value of one answer, by its ``type``: Typeform puts it under the key named by the type.

    ``choice`` gives its label (or the "other" text), ``choices`` the list of labels with any "other"
    text last; ``payment`` stays an object; every other type (text, email, phone_number, number,
    boolean, date, url, file_url, ...) gives the value as sent.
    """
    kind = answer.get("type")
    if not isinstance(kind, str) or kind not in answer:
        raise ValueError(f"answer of type {kind!r} carries no value under that key")
    value = answer[kind]
    if kind == "choice" and isinstance(value, Mapping):
        label = value.get("label")
        return label if label is not None else value.get("other")
    if kind == "choices" and isinstance(value, Mapping):
        labels = list(value.get("labels") or [])
        if value.get("other") is not None:
            labels.append(value["other"])
        return labels
    return value


def answers_by_ref(response: Mapping[str, Any]) -> dict[str, object]:
    """Map each answer of one response to its field ``ref``; keep hidden fields as ``hidden.<name>``.

    A field without a ``ref`` is keyed by its ``id``. Hidden fields are prefixed so that a hidden
    ``email`` and a question with the ref ``email`` never overwrite each other.
    """
    mapped: dict[str, object] = {}
    for index, answer in enumerate(response.get("answers") or []):
        question = answer.get("field") if isinstance(answer, Mapping) else None
        if not isinstance(question, Mapping):
            raise ValueError(f"answers[{index}] has no field")
        key = question.get("ref") or question.get("id")
        if not isinstance(key, str) or not key:
            raise ValueError(f"answers[{index}] has a field with neither ref nor id")
        if key in mapped:
            raise ValueError(f"answers[{index}] repeats the field {key!r}")
        try:
            mapped[key] = answer_value(answer)
        except ValueError as exc:
            raise ValueError(f"answers[{index}] ({key!r}): {exc}") from None
    hidden = response.get("hidden") or {}
    if not isinstance(hidden, Mapping):
        raise ValueError("hidden is not an object")
    for name, value in hidden.items():
        mapped[f"{HIDDEN_PREFIX}{name}"] = value
    return mapped


def form_fields(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The questions of a form definition in order, with the questions inside groups opened out.

    Answers refer to the inner questions of a group, never to the group itself, so the group is left out.
    """
    found: list[dict[str, Any]] = []

    def walk(fields: Any) -> None:
        for item in fields or []:
            inner = (item.get("properties") or {}).get("fields")
            if inner is not None:
                walk(inner)
            else:
                found.append(item)

    walk(form.get("fields"))
    return found


def typeform_time(value: datetime | str | int) -> str:
    """``since``/``until`` as Typeform takes them: UTC to the second with ``T`` (``2020-03-20T14:00:59``).

    An int is taken as unix seconds. Fractions of a second are dropped.
    """
    if isinstance(value, bool):
        raise TypeError("a time cannot be a boolean")
    if isinstance(value, int):
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"a Typeform time needs a time zone, got {value!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _item_token(item: Mapping[str, Any]) -> str | None:
    for key in ("response_id", "token"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _check_form_id(form_id: str) -> str:
    if not isinstance(form_id, str) or not _FORM_ID.fullmatch(form_id):
        raise ValueError(
            f"Typeform form id must be letters, digits, '_' or '-' (as in .../to/<form_id>), got {form_id!r}"
        )
    return form_id


# record_id and record_at are the response's token and submitted_at, never an answer (a hidden
# ``customer_id`` names an id, but not this record's).
_RESERVED_FIELDS = frozenset({"record_id", "record_at"})


def responses_zone(landing_dir: Path) -> LandingZone:
    """Where responses land, every form together (``_entity`` is the form id)."""
    return LandingZone(landing_dir, SOURCE, "responses", API_CONTACT_RECORD_SCHEMA)


def walks_zone(landing_dir: Path) -> LandingZone:
    """Where a marker lands after each complete walk; it is what the next walk's ``since`` comes from."""
    return LandingZone(landing_dir, SOURCE, "walks", API_RECORD_SCHEMA)


@dataclass
class TypeformSyncReport(SyncReport):
    """What one walk of one form did (``entity`` is the form id); ``as_metadata`` is what the asset
    reports for that form."""

    until: datetime | None = None
    walk_complete: bool = False

    @property
    def form_id(self) -> str:
        return self.entity

    @property
    def since(self) -> datetime | None:
        return self.updated_since

    def window(self) -> dict[str, datetime | None]:
        return {"since": self.updated_since, "until": self.until}


def last_complete_until(walks: LandingZone, form_id: str) -> datetime | None:
    """The ``until`` of the last complete walk of ``form_id``, or None when no walk of it ever completed."""
    table = walks.read_columns(["_entity", "updated_at"])
    mine = table.filter(pc.equal(table.column("_entity"), form_id)).column("updated_at")
    return pc.max(mine).as_py() if len(mine) else None


class TypeformSync(SyncAdapter[Page]):
    """One form's responses: a walk between the last complete walk and now, newest first."""

    lands_unchanged = True  # the walk markers, not the responses, carry the cursor
    reconciles = True

    def __init__(
        self,
        client: TypeformClient,
        responses: LandingZone,
        walks: LandingZone,
        form_id: str,
        *,
        until: datetime,
        region: str,
        local_tz: str,
        synonyms: SynonymTable | Mapping[str, Sequence[str]] | None,
    ) -> None:
        self.client, self.zone, self.walks, self.stats = client, responses, walks, client.stats
        self.entity_value = form_id
        self.label = f"Typeform form {form_id}"
        self.until = until
        self.region, self.local_tz, self.synonyms = region, local_tz, synonyms
        self.columns: list[tuple[str, str | None]] = []

    def cursor(self, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
        self.walks.prepare()
        cursor_before = last_complete_until(self.walks, self.entity_value)
        return cursor_before, None if cursor_before is None else cursor_before - overlap

    def new_report(
        self, sync_id: str, full_refresh: bool, cursor_before: datetime | None, since: datetime | None
    ) -> TypeformSyncReport:
        return TypeformSyncReport(
            self.entity_value, sync_id, full_refresh, cursor_before, since, until=self.until
        )

    def prepare(self, updated_since: datetime | None) -> None:
        self.columns = _form_columns(self.client.get_form(self.entity_value))

    def pages(self, updated_since: datetime | None) -> Iterator[Page]:
        return self.client.iter_pages(self.entity_value, since=updated_since, until=self.until)

    def records(self, page: Page) -> list[dict[str, Any]]:
        return page.items

    def fetched(self, page: Page, record: Mapping[str, Any]) -> Fetched:
        record_id = _response_id(record)
        submitted_at, problem = parse_timestamp(record.get("submitted_at"), "UTC")
        if submitted_at is None:
            raise self.client.malformed(
                _page_name(page),
                _responses_url(self.client, page),
                f"has response {record_id} without a readable submitted_at ({problem or 'missing'})",
            )
        return Fetched(record_id, submitted_at, False, record)

    def cursor_text(self, page: Page) -> str | None:
        return page.before

    def contacts(self, page: Page, records: list[dict[str, Any]]) -> pa.Table:
        try:
            return response_contacts(
                records,
                self.columns,
                where=f"Typeform form {page.form_id} page {page.number} response ",
                region=self.region,
                local_tz=self.local_tz,
                synonyms=self.synonyms,
            )
        except ValueError as error:  # an answer without a field or a value: nothing of this page lands
            url = _responses_url(self.client, page)
            raise self.client.malformed(_page_name(page), url, f"has {error}") from None

    def finish(self, report: SyncReport) -> None:
        """Record the walk as complete: the next walk's ``since`` comes from this marker."""
        assert isinstance(report, TypeformSyncReport)
        summary = {
            "form_id": report.form_id,
            "since": report.since.isoformat() if report.since else None,
            "until": self.until.isoformat(),
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
            "updated_at": self.until,
            "is_deleted": False,
            "record": JSON.encode(summary),
        }
        self.walks.write_batch(f"{report.sync_id}-walk", [row])
        report.walk_complete = True
        report.cursor_after = self.until


def sync_form(
    client: TypeformClient,
    responses: LandingZone,
    walks: LandingZone,
    form_id: str,
    *,
    region: str = "KR",
    local_tz: str = "Asia/Seoul",
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
    **sync: Any,
) -> TypeformSyncReport:
    """Land every completed response of ``form_id`` submitted since the last complete walk (all of them on
    a full refresh) up to now, then record the walk as complete. ``sync`` are ``run_sync``'s options:
    ``overlap``, ``full_refresh``, ``allow_mass_deletion`` and ``on_page``. A full refresh tombstones the
    landed responses the form no longer lists, but refuses (``MassDeletionError``, nothing tombstoned, the
    walk not recorded as complete) when they are more than ``sync_engine.MASS_DELETION_SHARE`` of the live
    ones, unless ``allow_mass_deletion``."""
    # Typeform bounds are whole seconds; the marker records exactly the bound that was sent.
    until = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    adapter = TypeformSync(
        client,
        responses,
        walks,
        form_id,
        until=until,
        region=region,
        local_tz=local_tz,
        synonyms=synonyms,
    )
    report = run_sync(adapter, **sync)
    assert isinstance(report, TypeformSyncReport)
    return report


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
    rows = (
        (
            number,
            [
                _response_id(item),
                _answer_text(item.get("submitted_at")),
                *(_answer_text(mapped.get(key)) for key in keys),
            ],
            JSON.encode(mapped),
        )
        for number, (item, mapped) in enumerate(zip(items, answers, strict=True), start=1)
    )
    return contact_table(
        SOURCE,
        ["token", "submitted_at", *keys],
        {0: "record_id", 1: "record_at", **{index + 2: name for index, name in mapping.items()}},
        rows,
        where=where,
        region=region,
        local_tz=local_tz,
    )


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


def _page_name(page: Page) -> str:
    return page_name(f"responses of form {page.form_id!r}", page.number, page.before, "before token")


def _responses_url(client: TypeformClient, page: Page) -> str:
    return client.base_url + f"/forms/{page.form_id}/responses"


def _response_id(item: Mapping[str, Any]) -> str:
    """The response's id: ``response_id``, else ``token`` (the client refuses items with neither)."""
    return str(item.get("response_id") or item.get("token"))


def _answer_text(value: object) -> str | None:
    """An answer as cell text: choices and other structures as compact JSON, booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return JSON.encode(value) if value else None
    return cell_text(value)
