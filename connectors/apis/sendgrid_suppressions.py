"""SendGrid's suppression lists through the v3 API, landed by the sync engine so the send path and dbt see
what SendGrid suppresses even when its webhooks were missed.

Five lists page by ``offset`` and ``limit`` (at most 500): ``GET /v3/suppression/bounces``, ``blocks``,
``spam_reports``, ``invalid_emails`` and ``unsubscribes`` (the global unsubscribes), each answering a JSON
array of ``{created, email, ...}`` (``created`` in unix seconds; bounces and blocks add ``reason`` and
``status``, spam reports ``ip``); a page shorter than ``limit`` is the last. Group unsubscribes come from
``GET /v3/asm/suppressions`` in one answer, ``[{email, group_id, group_name, created_at}]``. The key is a
Bearer token (``DRIPLINE_SENDGRID_API_KEY``, the same as the send path's, with read access to
suppressions); a 429 carries ``X-RateLimit-Reset`` (unix seconds), which the client waits for.

Each list lands in ``landing/sendgrid/<entity>/`` (``ENTITIES``) as API records exactly as returned:
``record_id`` is the address normalised as identity matches it (``normalize_email``; lower-cased when it is
no valid address, so an invalid_emails entry still has a key), ``<group_id>:<address>`` for a group
unsubscribe; ``updated_at`` is the time SendGrid listed it. SendGrid documents no order for these lists, so
a cursor taken from a half-walked list could skip what the walk had not reached: every sync walks the whole
list, which is small, and lands only what changed. A full refresh then reconciles: an address no longer
listed (a bounce an operator removed) gets a tombstone and is no longer suppressed, with the engine's
mass-deletion guard refusing to remove more than a fifth of a list at once.

``KINDS`` maps each list to the suppression kind of the send path. Blocks map to none: a block is SendGrid's
record of a receiving server refusing a message for the moment (a full mailbox, a reputation block), and
SendGrid itself keeps delivering to blocked addresses, so a block lands for reports but suppresses nothing.
``current_suppressions`` reads what is in force.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.apis import sync_engine
from connectors.apis.http import ApiClient, page_name
from connectors.apis.sync_engine import Fetched, Page, SyncAdapter, SyncReport, text_or_none
from connectors.core.landing import LandingZone
from connectors.core.normalize import normalize_email

__all__ = [
    "DEFAULT_BASE_URL",
    "ENTITIES",
    "KINDS",
    "MAX_PAGE_SIZE",
    "SOURCE",
    "TOKEN_SETTING",
    "SendGridSuppressionClient",
    "current_suppressions",
    "email_key",
    "landing_zone",
    "sync_entity",
]

SOURCE = "sendgrid"
TOKEN_SETTING = "DRIPLINE_SENDGRID_API_KEY"
DEFAULT_BASE_URL = "https://api.sendgrid.com"
MAX_PAGE_SIZE = 500
# The lists paged by offset, by the entity they land as.
LIST_PATHS = {
    "bounces": "/v3/suppression/bounces",
    "blocks": "/v3/suppression/blocks",
    "spam_reports": "/v3/suppression/spam_reports",
    "invalid_emails": "/v3/suppression/invalid_emails",
    "global_unsubscribes": "/v3/suppression/unsubscribes",
}
GROUP_UNSUBSCRIBES_PATH = "/v3/asm/suppressions"
ENTITIES = (*LIST_PATHS, "group_unsubscribes")
# The send path's suppression kind of each list; blocks are temporary and suppress nothing.
KINDS: dict[str, str | None] = {
    "bounces": "bounce",
    "blocks": None,
    "spam_reports": "spam_report",
    "invalid_emails": "invalid_email",
    "global_unsubscribes": "global_unsubscribe",
    "group_unsubscribes": "group_unsubscribe",
}


class SendGridSuppressionClient(ApiClient):
    """Read-only client of SendGrid's suppression lists; ``page_size`` is the ``limit`` (1 to 500)."""

    service = "SendGrid"
    default_token_setting = TOKEN_SETTING
    max_page_size = MAX_PAGE_SIZE
    rate_limit_reset_header = "X-RateLimit-Reset"

    def path(self, entity: str) -> str:
        if entity not in ENTITIES:
            raise ValueError(
                f"unknown SendGrid suppression list {entity!r}; expected one of {', '.join(ENTITIES)}"
            )
        return LIST_PATHS.get(entity, GROUP_UNSUBSCRIBES_PATH)

    def iter_pages(self, entity: str) -> Iterator[Page]:
        """Yield every page of one list, each as soon as it has been read; ``cursor`` is the ``offset``."""
        path = self.path(entity)
        if entity == "group_unsubscribes":
            where = page_name(entity, 1, None, "at offset")
            records = self._read_list(path, None, where, key="created_at", group=True)
            self.stats.pages += 1
            yield Page(entity, 1, None, None, records)
            return

        def read(offset: str | None, number: int) -> tuple[Page, str | None, str]:
            where = page_name(entity, number, offset, "at offset")
            query = {"limit": self.page_size, "offset": int(offset or 0)}
            records = self._read_list(path, query, where, key="created")
            next_offset = str(int(offset or 0) + len(records)) if len(records) == self.page_size else None
            return Page(entity, number, offset, next_offset, records), next_offset, where

        yield from self.walk_cursor(
            read,
            url=self.base_url + path,
            repeated="asks for offset {cursor} again, which this walk has read",
        )

    def _read_list(
        self, path: str, query: Mapping[str, Any] | None, where: str, *, key: str, group: bool = False
    ) -> list[dict[str, Any]]:
        """The entries of one answer, each checked: an email, ``key`` a unix time in seconds, and for a
        group unsubscribe its ``group_id`` a number."""
        records = self.get_json_array(path, query, page=where)
        for index, record in enumerate(records):
            if not isinstance(record, dict) or not text_or_none(record.get("email")):
                problem = "that is not an entry with an email"
            elif not _is_whole_number(record.get(key)):
                problem = f"whose {key} is not a unix time in seconds"
            elif group and not _is_whole_number(record.get("group_id")):
                problem = f"whose group_id {record.get('group_id')!r} is not a number"
            else:
                continue
            raise self.malformed(where, self.base_url + path, f"has item {index} {problem}")
        return records


def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def email_key(email: str) -> str:
    """The address as the send path matches it: normalised like identity, else lower-cased (an address
    SendGrid lists as invalid is often no valid address at all)."""
    return normalize_email(email)[0] or email.strip().lower()


def landing_zone(landing_dir: Path, entity: str) -> LandingZone:
    """The landing zone of one suppression list: ``landing/sendgrid/<entity>/``, API records."""
    return sync_engine.api_zone(landing_dir, SOURCE, entity, entities=ENTITIES)


class SuppressionSync(SyncAdapter[Page]):
    """One list, walked whole every time; a full refresh tombstones what SendGrid no longer lists."""

    reconciles = True

    def __init__(self, client: SendGridSuppressionClient, zone: LandingZone) -> None:
        self.client, self.zone, self.stats = client, zone, client.stats
        self.label = f"SendGrid {zone.entity}"

    def cursor(self, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
        # No documented order: never walk from a cursor (see the module docstring).
        return self.zone.max_value("updated_at"), None

    def pages(self, updated_since: datetime | None) -> Iterator[Page]:
        return self.client.iter_pages(self.zone.entity)

    def records(self, page: Page) -> list[dict[str, Any]]:
        return page.records

    def fetched(self, page: Page, record: Mapping[str, Any]) -> Fetched:
        # The client checked every entry (_read_list): an email, its time and a group unsubscribe's group.
        key = email_key(str(record["email"]))
        if page.entity == "group_unsubscribes":
            listed_at = datetime.fromtimestamp(record["created_at"], UTC)
            return Fetched(f"{record['group_id']}:{key}", listed_at, False, record)
        return Fetched(key, datetime.fromtimestamp(record["created"], UTC), False, record)

    def cursor_text(self, page: Page) -> str | None:
        return page.cursor


def sync_entity(client: SendGridSuppressionClient, zone: LandingZone, **sync: Any) -> SyncReport:
    """Land one list: every entry new or changed since it last landed; on a full refresh, a tombstone for
    each landed entry SendGrid no longer lists (past ``MASS_DELETION_SHARE`` only with
    ``allow_mass_deletion``). ``sync`` are ``run_sync``'s options; ``region`` and ``local_tz`` (passed to
    every source) are not used."""
    sync.pop("region", None)
    sync.pop("local_tz", None)
    return sync_engine.run_sync(SuppressionSync(client, zone), **sync)


def current_suppressions(landing_dir: Path) -> pa.Table:
    """What SendGrid's lists suppress now: one row per listed address and kind (and group), from the latest
    landed version of each entry that is not a tombstone; columns ``email_key``, ``kind``, ``group_id``
    and ``created_at``. Blocks suppress nothing and are left out."""
    parts = []
    for entity, kind in KINDS.items():
        if kind is None:
            continue
        zone = landing_zone(landing_dir, entity)
        table = zone.read_columns(["record_id", "updated_at", "_loaded_at", "_load_id", "is_deleted"])
        latest = table.take(sync_engine.latest_indices(table))
        latest = latest.filter(pc.invert(latest.column("is_deleted")))
        ids = latest.column("record_id").combine_chunks()
        if entity == "group_unsubscribes":
            split = pc.split_pattern(ids, ":", max_splits=1)
            group_ids = pc.cast(pc.list_element(split, 0), pa.int64())
            keys = pc.list_element(split, 1)
        else:
            group_ids = pa.nulls(len(ids), pa.int64())
            keys = ids
        parts.append(
            pa.table(
                {
                    "email_key": keys,
                    "kind": pa.array([kind] * len(ids), pa.string()),
                    "group_id": group_ids,
                    "created_at": latest.column("updated_at").combine_chunks(),
                }
            )
        )
    return pa.concat_tables(parts)
