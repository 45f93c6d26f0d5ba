"""Pipedrive API v2 client: persons, organizations and deals, page by page.

Lists walk ``GET /api/v2/<entity>`` with cursor pagination (``additional_data.next_cursor``; ``null`` on
the last page) sorted by ``update_time`` ascending, optionally from ``updated_since`` (inclusive,
RFC 3339). Records come back exactly as Pipedrive sends them; reshaping happens downstream.

Pipedrive leaves deleted deals out of the default list and keeps them under ``status=deleted`` for 30
days; ``statuses=DEAL_STATUSES`` lists every deal, deleted ones included, in one walk ordered by update
time. (Archived deals are in neither since 2025-07-15.) Persons and organizations have no such filter; their
deletions need a full reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from connectors.apis.http import ApiClient, StuckCursorError

__all__ = [
    "DEAL_STATUSES",
    "DEFAULT_BASE_URL",
    "ENTITIES",
    "MAX_PAGE_SIZE",
    "TOKEN_SETTING",
    "Page",
    "PipedriveClient",
    "rfc3339",
]

DEFAULT_BASE_URL = "https://api.pipedrive.com"
TOKEN_SETTING = "DRIPLINE_PIPEDRIVE_API_TOKEN"
ENTITIES = ("persons", "organizations", "deals")
MAX_PAGE_SIZE = 500
DEAL_STATUSES = ("open", "won", "lost", "deleted")


@dataclass(frozen=True)
class Page:
    """One page of one list walk.

    ``cursor`` is the cursor this page was requested with (``None`` for the first page) and
    ``next_cursor`` the one Pipedrive handed back (``None`` on the last page); ``params`` are the
    filters of the walk (``updated_since``, ``status``), enough to say where a landed batch came from.
    """

    entity: str
    number: int
    cursor: str | None
    next_cursor: str | None
    records: list[dict[str, Any]]
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_last(self) -> bool:
        return self.next_cursor is None


class PipedriveClient(ApiClient):
    """Read-only Pipedrive v2 client authenticated by the ``x-api-token`` header.

    ``page_size`` is sent as ``limit``; Pipedrive allows 1 to 500 and answers 400 above that, so a larger
    value is refused here, before any call.
    """

    service = "Pipedrive"

    def __init__(
        self,
        base_url: str,
        api_token: SecretStr,
        *,
        page_size: int = MAX_PAGE_SIZE,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        backoff_jitter: float = 0.5,
        max_retry_after: float = 120.0,
        token_setting: str = TOKEN_SETTING,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be between 1 and {MAX_PAGE_SIZE} (Pipedrive's limit), got {page_size}"
            )
        super().__init__(
            base_url,
            token=api_token,
            token_setting=token_setting,
            auth_header="x-api-token",
            auth_scheme=None,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_jitter,
            max_retry_after=max_retry_after,
        )
        self.page_size = page_size

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
        described = "".join(f" {key}={value}" for key, value in filters.items())
        seen: set[str] = set()
        cursor: str | None = None
        number = 0
        while True:
            number += 1
            query: dict[str, Any] = {**params, "limit": self.page_size}
            if cursor is not None:
                query["cursor"] = cursor
            page = f"{entity}{described} page {number} " + (
                f"at cursor {cursor!r}" if cursor is not None else "(first page)"
            )
            body = self.get_json(path, query, page=page)
            records, next_cursor = self._read_envelope(body, page, path)
            if next_cursor is not None:
                if next_cursor == cursor or next_cursor in seen:
                    raise StuckCursorError(
                        f"Pipedrive {page} returned next_cursor {next_cursor!r}, which this walk has already "
                        f"followed; stopping instead of looping.",
                        url=self.base_url + path,
                    )
                seen.add(next_cursor)
            self.stats.pages += 1
            yield Page(entity, number, cursor, next_cursor, records, dict(filters))
            if next_cursor is None:
                return
            cursor = next_cursor

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
