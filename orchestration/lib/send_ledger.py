"""The send ledger: campaign enrolments and one row per (campaign, step, customer, cycle) send decision.

It is state, not a rebuildable model, so it lives in a transactional store of its own: SQLite in WAL mode
with ``synchronous=FULL`` at ``<home>/outreach/ledger.sqlite3``, so a committed row survives a crash of the
process and of the machine. The send path holds an exclusive lock (``exclusive``, an ``flock`` the kernel
releases when the process dies) from its first decision to its last outcome, so two overlapping runs send one
after the other and the second sees what the first sent.

A send moves ``queued`` (decided, nothing sent) → ``sending`` (committed before the API call) → ``sent`` /
``failed`` / ``unknown`` / ``dry_run``. A process killed between the API call and the outcome leaves its
in-flight rows ``sending``; the next holder of the lock turns them into ``unknown`` (``recover``), which is
final: the tracking events, which carry the send id, reconcile them later, or an operator does. Nothing is
ever sent twice by a retry, a re-executed run, an overlapping run or a crash. ``skipped`` (not eligible now,
or deferred by quiet hours or a frequency cap) is decided again on every run; ``holdout`` is final.

Every change bumps a sequence number (``seq``) so the rows that changed since the last export can be landed
as an append-only batch for dbt (``changes_since``); dbt keeps the latest version of each row.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from connectors.core.landing import LandingZone

# Statuses after which a step is done for its enrolment. In a dry run a dry_run row counts as done too (the
# rehearsal goes on to the next step); a live or sandbox run decides a dry-run step again, since nothing
# was delivered.
FINAL_STATUSES = ("sent", "holdout", "failed", "unknown")
DRY_RUN_FINAL_STATUSES = (*FINAL_STATUSES, "dry_run")
STATUSES = ("queued", "sending", "sent", "dry_run", "holdout", "skipped", "failed", "unknown")

SCHEMA = """
create table if not exists ledger_meta (key text primary key, value integer not null);
insert or ignore into ledger_meta (key, value) values ('seq', 0);
create table if not exists campaign_starts (
    campaign text primary key,
    started_at text not null,
    first_pass_done integer not null default 0
);
create table if not exists enrollments (
    campaign text not null,
    customer_id text not null,
    cycle text not null,
    enrolled_at text not null,
    entered_at text,
    treatment_group text not null check (treatment_group in ('treatment', 'holdout')),
    exited_at text,
    exit_reason text,
    seq integer not null,
    primary key (campaign, customer_id, cycle)
);
create table if not exists sends (
    send_id text primary key,
    campaign text not null,
    purpose text not null,
    step text not null,
    step_index integer not null,
    customer_id text not null,
    cycle text not null,
    email text,
    status text not null,
    reason text,
    decided_at text not null,
    sent_at text,
    sg_message_id text,
    subject text,
    batch_id text,
    mode text,
    attempts integer not null default 0,
    retryable integer not null default 0,
    claim text,
    seq integer not null,
    unique (campaign, step, customer_id, cycle)
);
create index if not exists sends_by_customer on sends (customer_id, sent_at);
create index if not exists sends_by_status on sends (status);
create index if not exists sends_by_seq on sends (seq);
create index if not exists enrollments_by_seq on enrollments (seq);
"""

SEND_COLUMNS = (
    "send_id",
    "campaign",
    "purpose",
    "step",
    "step_index",
    "customer_id",
    "cycle",
    "email",
    "status",
    "reason",
    "decided_at",
    "sent_at",
    "sg_message_id",
    "subject",
    "batch_id",
    "mode",
    "attempts",
    "retryable",
    "seq",
)
ENROLLMENT_COLUMNS = (
    "campaign",
    "customer_id",
    "cycle",
    "enrolled_at",
    "entered_at",
    "treatment_group",
    "exited_at",
    "exit_reason",
    "seq",
)


class LedgerBusyError(RuntimeError):
    """Another process holds the send lock for longer than we may wait."""


def send_id_for(campaign: str, step: str, customer_id: str, cycle: str) -> str:
    """Deterministic: one decision always has the same id, in the ledger and in SendGrid's custom args."""
    key = "\x1f".join((campaign, step, customer_id, cycle))
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Decision(NamedTuple):
    """A due-list decision for (campaign, step, customer, cycle); a tuple, as they come by the million."""

    send_id: str  # send_id_for(campaign, step, customer_id, cycle), computed with the due-list
    campaign: str
    purpose: str
    step: str
    step_index: int
    customer_id: str
    cycle: str
    email: str | None
    status: str  # queued, holdout or skipped
    reason: str | None


@dataclass(frozen=True)
class Outcome:
    send_id: str
    status: str  # sent, dry_run, failed, unknown
    reason: str | None
    sg_message_id: str | None
    retryable: bool = False


class SendLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(SCHEMA)
            columns = {row[1] for row in connection.execute("pragma table_info(campaign_starts)")}
            if "first_pass_done" not in columns:  # a ledger from before the column: its pass is long done
                connection.execute(
                    "alter table campaign_starts add column first_pass_done integer not null default 1"
                )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            yield connection
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        # WAL is a property of the file, set once. Setting it takes a lock without waiting for one, so a
        # second process opening the ledger while the first writes would fail: only a new file is switched.
        # Two processes opening a new file at once both see it unswitched; the one that loses the race is told
        # "database is locked" at once, so it retries until the other has switched it (or 60 s have passed).
        deadline = time.monotonic() + 60
        while connection.execute("pragma journal_mode").fetchall()[0][0] != "wal":
            try:
                connection.execute("pragma journal_mode = wal")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # FULL: a commit is on disk before it returns, so an intent is durable before the API call.
        connection.execute("pragma synchronous = full")
        return connection

    @contextmanager
    def exclusive(self, timeout: float = 600.0) -> Iterator[None]:
        """The send lock: one process decides and sends at a time; released by the kernel if it dies."""
        lock_path = self.path.with_suffix(".lock")
        with lock_path.open("a") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LedgerBusyError(
                            f"another run has held the send lock {lock_path} for {timeout:.0f} s; "
                            "it is still sending (check the runs in the UI) or stuck (stop it, then re-run)"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction with the sequence number its changes carry."""
        with self._connection() as connection:
            connection.execute("begin immediate")
            try:
                connection.execute("update ledger_meta set value = value + 1 where key = 'seq'")
                (seq,) = connection.execute("select value from ledger_meta where key = 'seq'").fetchone()
                yield connection, seq
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise

    def recover(self, now: datetime) -> tuple[int, int]:
        """Call holding the lock: rows left ``sending`` by a dead process become ``unknown`` (never resent);
        rows left ``queued`` were never sent and are decided again. Returns (unknown, requeued)."""
        with self.transaction() as (connection, seq):
            unknown = connection.execute(
                """
                update sends set status = 'unknown', seq = ?, claim = null,
                    reason = 'the run stopped between the API call and recording its answer; held for '
                        || 'reconciliation from the tracking events (custom arg send_id), never resent'
                where status = 'sending'
                """,
                [seq],
            ).rowcount
            requeued = connection.execute(
                """
                update sends set status = 'skipped', seq = ?, claim = null, decided_at = ?,
                    reason = 'interrupted before sending; decided again'
                where status = 'queued'
                """,
                [seq, iso(now)],
            ).rowcount
        return unknown, requeued

    def campaign_started_at(self, campaign: str, now: datetime) -> tuple[datetime, bool]:
        """When the campaign first ran here (recorded now on its first run), and whether its first enrolment
        pass is still to come: true until ``enroll`` has committed one, so a first run that crashed before it
        enrols those already in the audience on the next."""
        with self.transaction() as (connection, _):
            connection.execute(
                "insert or ignore into campaign_starts (campaign, started_at) values (?, ?)",
                [campaign, iso(now)],
            )
            started_at, first_pass_done = connection.execute(
                "select started_at, first_pass_done from campaign_starts where campaign = ?", [campaign]
            ).fetchone()
        return from_iso(started_at), not first_pass_done

    def rows(
        self, table: str, columns: Sequence[str], where: str = "", params: Sequence[object] = ()
    ) -> list:
        with self._connection() as connection:
            return connection.execute(
                f"select {', '.join(columns)} from {table} {where}", list(params)
            ).fetchall()

    def enroll(self, campaign: str, rows: Iterable[tuple], now: datetime) -> int:
        """rows: (customer_id, cycle, entered_at as ISO text, treatment_group), in primary-key order (a
        million ids in hash order each touch a random page of the index); existing enrolments are kept.
        Marks the campaign's first enrolment pass done, in the same transaction."""
        enrolled_at = iso(now)
        with self.transaction() as (connection, seq):
            inserted = connection.executemany(
                """
                insert or ignore into enrollments
                    (campaign, customer_id, cycle, enrolled_at, entered_at, treatment_group, seq)
                values (?, ?, ?, ?, ?, ?, ?)
                """,
                ((campaign, k, cy, enrolled_at, e, g, seq) for k, cy, e, g in rows),
            ).rowcount
            connection.execute(
                "update campaign_starts set first_pass_done = 1 where campaign = ?", [campaign]
            )
            return inserted

    def exit(self, rows: Iterable[tuple[str, str, str, str]], now: datetime) -> int:
        """rows: (campaign, customer_id, cycle, exit_reason) of enrolments still active."""
        with self.transaction() as (connection, seq):
            before = connection.total_changes
            connection.executemany(
                """
                update enrollments set exited_at = ?, exit_reason = ?, seq = ?
                where campaign = ? and customer_id = ? and cycle = ? and exited_at is null
                """,
                [(iso(now), reason, seq, c, k, cy) for c, k, cy, reason in rows],
            )
            return connection.total_changes - before

    def decide(self, decisions: Sequence[tuple], now: datetime, claim: str) -> list[str]:
        """Record decisions (tuples in the fields of ``Decision``) in one transaction; returns the send ids
        queued for sending under ``claim``.

        A final row (sent, holdout, failed unless retryable, unknown) is never overwritten; a skipped one is
        rewritten only when its status or reason changed, so an unchanged deferral does not churn the export.
        """
        decided_at = iso(now)
        with self.transaction() as (connection, seq):
            connection.executemany(
                """
                insert into sends (send_id, campaign, purpose, step, step_index, customer_id, cycle, email,
                    status, reason, decided_at, subject, claim, seq)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                on conflict (send_id) do update set
                    email = excluded.email, status = excluded.status, reason = excluded.reason,
                    decided_at = excluded.decided_at, subject = excluded.subject, claim = excluded.claim,
                    retryable = 0, seq = excluded.seq
                where (
                    sends.status in ('skipped', 'dry_run')
                    or (sends.status = 'failed' and sends.retryable = 1)
                )
                    and (sends.status is not excluded.status or sends.reason is not excluded.reason
                         or excluded.status = 'queued')
                """,
                (
                    (*decision, decided_at, None, claim if decision[8] == "queued" else None, seq)
                    for decision in decisions
                ),
            )
            return [
                send_id
                for (send_id,) in connection.execute(
                    "select send_id from sends where status = 'queued' and claim = ? order by send_id",
                    [claim],
                ).fetchall()
            ]

    def mark_sending(self, send_ids: Sequence[str], batch_id: str, mode: str) -> None:
        """Committed (and on disk) before the API call: a crash after this leaves these rows unknown."""
        with self.transaction() as (connection, seq):
            connection.executemany(
                """
                update sends set status = 'sending', batch_id = ?, mode = ?, attempts = attempts + 1, seq = ?
                where send_id = ? and status = 'queued'
                """,
                [(batch_id, mode, seq, send_id) for send_id in send_ids],
            )

    def record_outcomes(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        with self.transaction() as (connection, seq):
            connection.executemany(
                """
                update sends set status = ?, reason = ?, sg_message_id = ?, retryable = ?, claim = null,
                    sent_at = case when ? in ('sent', 'dry_run') then ? else sent_at end, seq = ?
                where send_id = ? and status = 'sending'
                """,
                [
                    (
                        o.status,
                        o.reason,
                        o.sg_message_id,
                        int(o.retryable),
                        o.status,
                        iso(now),
                        seq,
                        o.send_id,
                    )
                    for o in outcomes
                ],
            )

    def confirm_unknown(self, confirmations: Sequence[tuple[str, datetime, str | None]]) -> int:
        """Resolve ``unknown`` sends that SendGrid's events name: (send_id, first event time, the request's
        X-Message-Id or None). SendGrid accepted them, so they are ``sent`` (at their first event); a send
        with no event stays unknown, never resent. Returns the rows resolved."""
        if not confirmations:
            return 0
        with self.transaction() as (connection, seq):
            return sum(
                connection.execute(
                    """
                    update sends set status = 'sent', sent_at = ?, seq = ?,
                        sg_message_id = coalesce(sg_message_id, ?),
                        reason = 'was unknown (the run stopped mid-request); '
                            || 'SendGrid''s events show it was sent'
                    where send_id = ? and status = 'unknown'
                    """,
                    [iso(at), seq, message_id, send_id],
                ).rowcount
                for send_id, at, message_id in confirmations
            )

    def max_seq(self) -> int:
        with self._connection() as connection:
            return connection.execute("select value from ledger_meta where key = 'seq'").fetchone()[0]

    def changes_since(self, seq: int) -> tuple[list[tuple], list[tuple]]:
        """Sends and enrolments changed after ``seq`` (transient queued/sending rows excepted)."""
        with self._connection() as connection:
            sends = connection.execute(
                f"select {', '.join(SEND_COLUMNS)} from sends "
                "where seq > ? and status not in ('queued', 'sending')",
                [seq],
            ).fetchall()
            enrollments = connection.execute(
                f"select {', '.join(ENROLLMENT_COLUMNS)} from enrollments where seq > ?", [seq]
            ).fetchall()
        return sends, enrollments


_TS = pa.timestamp("us", tz="UTC")
_LANDED = [pa.field("_load_id", pa.string(), nullable=False), pa.field("_loaded_at", _TS, nullable=False)]
SEND_ROW_SCHEMA = pa.schema(
    [
        *_LANDED,
        *(
            pa.field(
                name,
                {"step_index": pa.int64(), "attempts": pa.int64(), "seq": pa.int64()}.get(name, pa.string()),
            )
            for name in SEND_COLUMNS
            if name not in ("decided_at", "sent_at", "retryable")
        ),
        pa.field("decided_at", _TS),
        pa.field("sent_at", _TS),
        pa.field("retryable", pa.bool_()),
    ]
)
ENROLLMENT_ROW_SCHEMA = pa.schema(
    [
        *_LANDED,
        *(
            pa.field(name, pa.int64() if name == "seq" else pa.string())
            for name in ENROLLMENT_COLUMNS
            if name not in ("enrolled_at", "entered_at", "exited_at")
        ),
        pa.field("enrolled_at", _TS),
        pa.field("entered_at", _TS),
        pa.field("exited_at", _TS),
    ]
)


def ledger_zones(landing_dir: Path) -> tuple[LandingZone, LandingZone]:
    """Where the ledger's changes land for dbt: outreach/campaign_sends and outreach/campaign_enrollments."""
    return (
        LandingZone(landing_dir, "outreach", "campaign_sends", schema=SEND_ROW_SCHEMA),
        LandingZone(landing_dir, "outreach", "campaign_enrollments", schema=ENROLLMENT_ROW_SCHEMA),
    )


@dataclass(frozen=True)
class LedgerExport:
    send_rows: int
    enrollment_rows: int
    ledger_seq: int


def land_ledger_changes(ledger: SendLedger, landing_dir: Path) -> LedgerExport:
    """Land every ledger row changed since the last landed batch, as one batch per zone.

    The watermark is the largest ``seq`` already landed, so a crash before or after a batch is safe: the next
    call lands the same rows again under the same batch id (which the zone skips) or picks them up.
    """
    landed = []
    for zone, index in zip(ledger_zones(landing_dir), (0, 1), strict=True):
        zone.prepare()
        watermark = zone.max_value("seq") or 0
        rows = ledger.changes_since(int(watermark))[index]
        columns = SEND_COLUMNS if index == 0 else ENROLLMENT_COLUMNS
        if rows:
            data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
            for name in ("decided_at", "sent_at", "enrolled_at", "entered_at", "exited_at"):
                if name in data:
                    data[name] = [from_iso(value) for value in data[name]]
            if "retryable" in data:
                data["retryable"] = [bool(value) for value in data["retryable"]]
            table = pa.table(
                {name: data[name] for name in zone.reader_schema.names}, schema=zone.reader_schema
            )
            digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
            zone.write_batch(f"seq-{max(row[-1] for row in rows):012d}-{digest}", table)
        landed.append(len(rows))
    return LedgerExport(send_rows=landed[0], enrollment_rows=landed[1], ledger_seq=ledger.max_seq())
