"""A small warehouse with the tables the send path reads, a campaign folder, and the send path run on them.

The send path's contract with the warehouse is three tables (customers, segment_memberships,
customer_source_records); building them directly keeps these tests about sending, quick, and exact. The
end-to-end tests run the same path on a warehouse dbt built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import yaml

from connectors.apis.sendgrid import SendGridMailer
from orchestration.lib.campaigns import Campaign, customer_columns, load_campaigns
from orchestration.lib.outreach import CampaignRunReport, SendContext, run_campaign
from orchestration.lib.send_ledger import SendLedger
from tests.fakes.sendgrid import FakeSendGrid

SEOUL = ZoneInfo("Asia/Seoul")
SEGMENTS = {"first_time_buyers", "repeat_buyers", "warm_prospects", "cold_prospects", "at_risk_regulars"}
SENDER = {
    "email": "hello@catering.example",
    "name": "맛있는케이터링",
    "address": "서울시 성동구 성수이로 113",
}


def at(text: str) -> datetime:
    """A local (Seoul) time: at('2026-11-16 10:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


@contextmanager
def answer_times_out() -> Iterator[tuple[FakeSendGrid, SendGridMailer]]:
    """The SendGrid fake accepts the first request but answers after the mailer's timeout: the send is
    left ``unknown`` (SendGrid has it, the ledger cannot know)."""
    with FakeSendGrid.running("SG.test") as fake:
        fake.inject("slow_then_accept", delay=1.5)
        yield fake, SendGridMailer("SG.test", fake.url, timeout=0.5, retry_timeouts=False)


def customer(customer_id: str, email: str | None = None, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "full_name": f"고객{customer_id}",
        "primary_email": email.lower() if email else None,
        "email_address": email,
        "primary_phone": "+821012340000",
        "consent_email": True,
        "consent_email_at": at("2025-01-10 09:00"),
        "segment": "first_time_buyers",
        "lifecycle_stage": "new",
        "channel": "online",
        "source_count": 1,
        "record_count": 1,
        "first_seen_at": at("2026-01-01 09:00"),
        "last_seen_at": at("2026-01-01 09:00"),
        "sources": "forms",
        "purchase_count": 1,
    }
    row.update(values)
    return row


@dataclass
class Home:
    """A Dripline home with a warehouse of the given customers and a campaign folder."""

    root: Path
    customers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @property
    def ledger(self) -> SendLedger:
        return SendLedger(self.root / "outreach" / "ledger.sqlite3")

    def build(
        self,
        customers: list[dict[str, Any]],
        memberships: list[tuple[str, str | None, datetime, datetime | None]] | None = None,
        source_records: list[tuple[str, str, str, datetime]] | None = None,
        merges: list[tuple[str, str]] | None = None,
    ) -> None:
        """(Re)write the warehouse; memberships default to one open version a customer since first_seen_at."""
        self.customers = customers
        columns = dict(customer_columns())
        for name, kind in (
            ("email_address", "varchar"),
            ("birthday", "varchar"),
            ("consent_email_at", "timestamp with time zone"),
        ):
            columns.setdefault(name, kind)
        self.root.mkdir(parents=True, exist_ok=True)
        self.warehouse.unlink(missing_ok=True)
        with duckdb.connect(str(self.warehouse)) as connection:
            connection.execute(
                "create table customers (" + ", ".join(f'"{n}" {t}' for n, t in columns.items()) + ")"
            )
            names = list(columns)
            if customers:
                rows = pa.Table.from_pylist([{name: row.get(name) for name in names} for row in customers])
                connection.register("rows", rows)
                quoted = ", ".join(f'"{name}"' for name in names)
                connection.execute(f"insert into customers select {quoted} from rows")
            connection.execute(
                "create table segment_memberships (customer_id varchar, segment varchar, "
                "dbt_valid_from timestamptz, dbt_valid_to timestamptz)"
            )
            if memberships is None:
                memberships = [(c["customer_id"], c["segment"], c["first_seen_at"], None) for c in customers]
            if memberships:
                columns = ("customer_id", "segment", "valid_from", "valid_to")
                connection.register("versions", _table(columns, memberships))
                connection.execute("insert into segment_memberships select * from versions")
            connection.execute(
                "create table customer_id_history (retired_customer_id varchar, customer_id varchar)"
            )
            if merges:
                connection.executemany("insert into customer_id_history values (?, ?)", merges)
            connection.execute(
                "create table customer_source_records (customer_id varchar, source varchar, "
                "source_record_id varchar, record_at timestamptz)"
            )
            if source_records:
                columns = ("customer_id", "source", "source_record_id", "record_at")
                connection.register("records", _table(columns, source_records))
                connection.execute("insert into customer_source_records select * from records")

    def write_campaign(self, **overrides: Any) -> Campaign:
        definition = campaign_definition(**overrides)
        self.campaigns_dir.mkdir(exist_ok=True)
        (self.campaigns_dir / f"{definition['name']}.yml").write_text(
            yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8"
        )
        return next(c for c in load_campaigns(self.campaigns_dir, SEGMENTS) if c.name == definition["name"])

    def context(self, now: datetime, mode: str = "dry_run", batch_size: int = 1000) -> SendContext:
        return SendContext(
            now=now,
            zone=SEOUL,
            mode=mode,
            from_email="hello@catering.example",
            from_name="맛있는케이터링",
            sender_address="서울시 성동구 성수이로 113",
            default_region="KR",
            ad_markers={"KR": "(광고)"},
            batch_size=batch_size,
            outbox_dir=self.root / "outreach" / "outbox",
        )

    def run(
        self,
        campaign: Campaign,
        now: datetime,
        mode: str = "dry_run",
        mailer: Any = None,
        batch_size: int = 1000,
    ) -> CampaignRunReport:
        return run_campaign(
            campaign, self.warehouse, self.landing, self.ledger, self.context(now, mode, batch_size), mailer
        )

    def sends(self, campaign: str | None = None) -> list[dict[str, Any]]:
        columns = (
            "send_id",
            "campaign",
            "step",
            "customer_id",
            "cycle",
            "email",
            "status",
            "reason",
            "sent_at",
        )
        rows = self.ledger.rows(
            "sends",
            columns,
            "where campaign = ? order by step_index, customer_id" if campaign else "",
            [campaign] if campaign else [],
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def enrollments(self, campaign: str) -> list[dict[str, Any]]:
        columns = ("customer_id", "cycle", "treatment_group", "exited_at", "exit_reason")
        rows = self.ledger.rows("enrollments", columns, "where campaign = ? order by customer_id", [campaign])
        return [dict(zip(columns, row, strict=True)) for row in rows]


def _table(columns: tuple[str, ...], rows: list[tuple]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows])


def campaign_definition(**overrides: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": "welcome_first_buyers",
        "description": "Thank first-time buyers, then nudge a second order",
        "purpose": "marketing",
        "audience": {"segments": ["first_time_buyers"]},
        "trigger": {"type": "audience_entry", "enroll_existing": True},
        "holdout_percent": 0,
        "sender": dict(SENDER),
        "reply_to": "replies@reply.catering.example",
        "categories": ["onboarding"],
        "unsubscribe_group_id": 21001,
        "steps": [
            {
                "id": "welcome",
                "wait": "0d",
                "subject": "{{ full_name }}님, 첫 주문 감사합니다",
                "html": "<p>{{ full_name }}님 안녕하세요</p>",
            },
            {
                "id": "reorder_nudge",
                "wait": "3d",
                "subject": "두 번째 주문 10% 할인",
                "html": "<p>{{ company or full_name }}</p>",
            },
        ],
    }
    definition.update(overrides)
    return definition
