"""Retired batches: landed batches that dbt no longer reads, listed in an audited file beside landing.

Landing is append-only and never edited, so a batch that cannot be processed (a workbook whose batch breaks
the warehouse build on this machine, a file landed by mistake) would otherwise keep a home broken for good.
`dripline retire-batch <load id> --reason ...` appends one line to ``<home>/retired_batches.csv`` (the batch,
its zone, when, who and why) and the staging sources of every file and API source skip that ``_load_id``.
Nothing is deleted: the batch stays in landing, and removing its line (by hand, with a note in the ticket)
brings it back on the next run. docs/runbook.md says when to use it.
"""

from __future__ import annotations

import csv
import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RETIRED_BATCHES_FILE = "retired_batches.csv"
COLUMNS = ("load_id", "source", "entity", "retired_at", "retired_by", "reason")
# Zones whose staging honours retired batches: the inputs. The identity map, the send ledger and the
# quarantine record what the pipeline itself did: retiring one would rename customers or re-send mail.
RETIRABLE_SOURCES = ("spreadsheets", "forms", "pipedrive", "hubspot", "shopify", "typeform")
# And of SendGrid's zones, what it told us about our mail (events, replies): never a suppression list, whose
# retiring would mail people who asked not to be mailed.
RETIRABLE_ZONES = (("sendgrid", "events"), ("sendgrid", "replies"))


class RetireError(Exception):
    """The batch cannot be retired; the message says why."""


@dataclass(frozen=True)
class RetiredBatch:
    load_id: str
    source: str
    entity: str
    retired_at: str
    retired_by: str
    reason: str


def retired_batches_path(home: Path) -> Path:
    return home / RETIRED_BATCHES_FILE


def ensure_retired_batches_file(home: Path) -> Path:
    """Create the file with its header when missing: dbt's sources read it on every build."""
    path = retired_batches_path(home)
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".tmp-{path.name}")
        with temp.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(COLUMNS)
        os.replace(temp, path)
    return path


def retired_batches(home: Path) -> list[RetiredBatch]:
    path = retired_batches_path(home)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [RetiredBatch(**{k: row.get(k) or "" for k in COLUMNS}) for row in csv.DictReader(handle)]


def find_batch(landing_dir: Path, load_id: str) -> tuple[str, str]:
    """``(source, entity)`` of the zone holding the batch ``load_id``."""
    if not load_id or "/" in load_id or load_id.startswith("."):
        raise RetireError(f"{load_id!r} is not a batch id (the _load_id of a landed row, without .parquet)")
    found = sorted(landing_dir.glob(f"*/*/{load_id}.parquet"))
    if not found:
        raise RetireError(f"no landed batch {load_id!r} under {landing_dir}")
    source, entity = found[0].parent.parent.name, found[0].parent.name
    if source not in RETIRABLE_SOURCES and (source, entity) not in RETIRABLE_ZONES:
        raise RetireError(
            f"batch {load_id!r} is in landing/{source}/{entity}, which records what the pipeline did "
            "(ids, sends, quarantine, suppressions); only input batches can be retired"
        )
    return source, entity


def retire_batch(home: Path, load_id: str, reason: str, retired_by: str | None = None) -> RetiredBatch:
    """Append the batch to the retired list (once); staging skips it from the next build on."""
    if not reason or not reason.strip():
        raise RetireError("say why (--reason): the retired list is the audit trail")
    source, entity = find_batch(home / "landing", load_id)
    if any(batch.load_id == load_id for batch in retired_batches(home)):
        raise RetireError(f"batch {load_id!r} is already retired")
    batch = RetiredBatch(
        load_id=load_id,
        source=source,
        entity=entity,
        retired_at=datetime.now(UTC).isoformat(timespec="seconds"),
        retired_by=retired_by or _who(),
        reason=" ".join(reason.split()),
    )
    path = ensure_retired_batches_file(home)
    with path.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow([getattr(batch, column) for column in COLUMNS])
        handle.flush()
        os.fsync(handle.fileno())
    return batch


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
