"""Running one drip campaign: enrol, exit, decide who is due and who must not be mailed, send, record.

``run_campaign`` is the whole send path of one campaign at one instant (``now``: DRIPLINE_AS_OF, else the
wall clock). It reads the warehouse read-only (customers, segment_memberships, customer_source_records),
the suppressions in landing (``landing/sendgrid/suppressions``) and the send ledger (``send_ledger``), and it
holds the ledger's send lock from its first decision to its last outcome:

1. recover what a killed run left in flight (``sending`` → ``unknown``, never resent);
2. enrol by the trigger (audience entry, a yearly date, a new form submission), with the holdout group drawn
   deterministically from the campaign and customer (a rebuild never reshuffles it);
3. exit active enrolments on unsubscribes, bounces, conversions and leaving the audience, and complete those
   that had every step;
4. compute the due-list in DuckDB (waits after enrolment or after the previous step) and decide each due row:
   no email, no consent (marketing), suppressed, holdout, frequency cap, quiet hours, or queued;
5. render and send the queued rows in batches of up to 1000 personalizations, each batch committed as
   ``sending`` before its API call and its outcome recorded after it. Without an API key, or in dry-run mode,
   the exact request body is written to ``<home>/outreach/outbox/`` instead and the rows become ``dry_run``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import duckdb
import phonenumbers
import pyarrow as pa

from connectors.apis.sendgrid import SendGridError
from connectors.core.landing import LandingZone
from connectors.core.normalize import normalize_email
from orchestration.lib.campaigns import (
    Campaign,
    Step,
    customer_columns,
    parse_clock,
    template_environment,
    template_variables,
)
from orchestration.lib.segments import resolve_as_of
from orchestration.lib.send_ledger import (
    DRY_RUN_FINAL_STATUSES,
    FINAL_STATUSES,
    Decision,
    Outcome,
    SendLedger,
    iso,
)

if TYPE_CHECKING:
    from orchestration.lib.settings import DriplineSettings

SUPPRESSION_KINDS = (
    "global_unsubscribe",
    "group_unsubscribe",
    "bounce",
    "spam_report",
    "invalid_email",
    "erasure",
)
# Kinds that stop a service message too: an address that bounces, complained or asked to be erased.
SERVICE_SUPPRESSION_KINDS = ("global_unsubscribe", "bounce", "spam_report", "invalid_email", "erasure")
BODY_TAG = "-dripline_body-"
TEXT_TAG = "-dripline_text-"
REPLY_TAG = "-dripline_reply-"
# SendGrid allows 10,000 bytes of substitutions per personalization; a larger body gets a request of its own.
MAX_SUBSTITUTION_BYTES = 9_500
UNSUBSCRIBE_URL = "<%asm_group_unsubscribe_raw_url%>"


SEND_ID, STEP, STEP_INDEX, CUSTOMER_ID, EMAIL, STATUS = (
    Decision._fields.index(name)
    for name in ("send_id", "step", "step_index", "customer_id", "email", "status")
)


class Mailer(Protocol):
    def send(self, message: dict) -> Any: ...


@dataclass
class CampaignRunReport:
    """What one run of one campaign did: counts only, and the rendered preview of each step."""

    campaign: str
    mode: str
    audience: int = 0
    enrolled: int = 0
    holdout_enrolled: int = 0
    active: int = 0
    exited: Counter = field(default_factory=Counter)
    due: int = 0
    statuses: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    recovered_unknown: int = 0
    confirmed_unknown: int = 0
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    previews: list[dict[str, str]] = field(default_factory=list)

    def summary_line(self) -> str:
        parts = [f"{self.due} due"]
        for status in ("sent", "dry_run", "holdout", "failed", "unknown"):
            if self.statuses[status]:
                parts.append(f"{self.statuses[status]} {status.replace('_', '-')}")
        if self.skipped:
            reasons = ", ".join(f"{reason} {count}" for reason, count in self.skipped.most_common())
            parts.append(f"{sum(self.skipped.values())} not mailed ({reasons})")
        if self.enrolled:
            parts.append(f"{self.enrolled} enrolled")
        if self.exited:
            parts.append(f"{sum(self.exited.values())} exited")
        return f"{self.mode.replace('_', ' ')}: " + ", ".join(parts)


def send_context(settings: DriplineSettings) -> SendContext:
    """The run's clock, mode, sender defaults and limits, from the settings."""
    return SendContext(
        now=resolve_as_of(settings.as_of, settings.local_timezone),
        zone=ZoneInfo(settings.local_timezone),
        mode=settings.effective_send_mode,
        from_email=settings.from_email or "",
        from_name=settings.from_name,
        sender_address=settings.sender_address,
        default_region=settings.default_region,
        ad_markers=settings.ad_subject_markers,
        batch_size=settings.send_batch_size,
        outbox_dir=settings.outreach_dir / "outbox",
    )


def ledger_for(settings: DriplineSettings) -> SendLedger:
    """The home's send ledger."""
    return SendLedger(settings.outreach_dir / "ledger.sqlite3")


def holdout_bucket(campaign: str, customer_id: str) -> int:
    """0..9999, the same in Python and in the due-list SQL (md5 of campaign:customer)."""
    return int(hashlib.md5(f"{campaign}:{customer_id}".encode()).hexdigest()[:8], 16) % 10_000


def recipient_region(phone: str | None, default_region: str) -> str:
    """The recipient's law: their phone number's region, else the home region (DRIPLINE_DEFAULT_REGION)."""
    if phone and phone.startswith("+"):
        if phone.startswith("+82"):
            return "KR"
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            region = None
        if region and region != "ZZ":
            return region
    return default_region


def in_quiet_hours(now: datetime, campaign: Campaign, zone: ZoneInfo) -> bool:
    if not campaign.quiet_hours.enabled:
        return False
    start, end = parse_clock(campaign.quiet_hours.start), parse_clock(campaign.quiet_hours.end)
    local = now.astimezone(zone).time()
    return (local >= start or local < end) if start > end else (start <= local < end)


@dataclass(frozen=True)
class SendContext:
    """Everything rendering and sending need beyond the campaign: settings resolved once per run."""

    now: datetime
    zone: ZoneInfo
    mode: str  # dry_run, sandbox, live
    from_email: str
    from_name: str | None
    sender_address: str | None
    default_region: str
    ad_markers: dict[str, str]
    batch_size: int
    outbox_dir: Path


class StepRenderer:
    """A step's subject and body rendered for one customer row, the way the send path sends them."""

    def __init__(self, campaign: Campaign, step: Step, context: SendContext) -> None:
        self.campaign, self.step, self.context = campaign, step, context
        self.subject = template_environment(False).from_string(step.subject) if step.subject else None
        self.html = (
            None
            if step.template_id
            else template_environment(True).from_string(campaign.template_source(step))
        )
        self.text = template_environment(False).from_string(step.text) if step.text else None

    def subject_for(self, row: dict[str, Any]) -> str | None:
        if self.subject is None:
            return None
        subject = " ".join(self.subject.render(row).split())
        if self.campaign.is_marketing:
            marker = self.context.ad_markers.get(
                recipient_region(row.get("primary_phone"), self.context.default_region)
            )
            if marker and not subject.startswith(marker):
                subject = f"{marker} {subject}"
        return subject

    def body_for(self, row: dict[str, Any]) -> tuple[str | None, str | None]:
        html = self.html.render(row) if self.html is not None else None
        text = self.text.render(row) if self.text is not None else None
        return html, text

    def footer_html(self) -> str:
        sender = self.campaign.sender
        name = escape(sender.name or self.context.from_name or self.context.from_email)
        address = escape(sender.address or self.context.sender_address or "")
        contact = escape(sender.email or self.context.from_email)
        lines = [f"{name} · {address} · {contact}" if address else f"{name} · {contact}"]
        if self.campaign.is_marketing:
            lines.append(
                "본 메일은 수신에 동의하신 분께 보내 드리는 광고성 정보입니다. "
                "This is an advertisement; you receive it because you agreed to hear from us."
            )
        if self.campaign.unsubscribe_group_id is not None:
            lines.append(f'<a href="{UNSUBSCRIBE_URL}">수신거부 · Unsubscribe</a>')
        return '<hr><p style="font-size:12px;color:#666666">' + "<br>".join(lines) + "</p>"

    def footer_text(self) -> str:
        sender = self.campaign.sender
        name = sender.name or self.context.from_name or self.context.from_email
        address = sender.address or self.context.sender_address or ""
        text = f"\n\n--\n{name} {address}".rstrip()
        if self.campaign.unsubscribe_group_id is not None:
            text += f"\n수신거부 / Unsubscribe: {UNSUBSCRIBE_URL}"
        return text

    def reply_to(self, tagged: bool) -> dict[str, str] | None:
        """A reply-to that names the send: local+<send_id>@domain (the token is a substitution)."""
        if not self.campaign.reply_to:
            return None
        local, _, domain = self.campaign.reply_to.rpartition("@")
        return {"email": f"{local}+{REPLY_TAG}@{domain}" if tagged else self.campaign.reply_to}

    def message(
        self, personalizations: list[dict], inline: tuple[str, str | None] | None = None
    ) -> dict[str, Any]:
        """The v3 mail/send body for these personalizations. The body of each recipient travels as a
        substitution (one request serves up to 1000 different bodies), or ``inline`` for a body too large."""
        campaign, step = self.campaign, self.step
        sender = campaign.sender
        message: dict[str, Any] = {
            "from": {"email": sender.email or self.context.from_email},
            "personalizations": personalizations,
            "categories": list(dict.fromkeys([*campaign.categories, campaign.name])),
            "custom_args": {"campaign": campaign.name, "step": step.id},
        }
        if sender.name or self.context.from_name:
            message["from"]["name"] = sender.name or self.context.from_name
        if step.template_id:
            message["template_id"] = step.template_id
        else:
            html, text = inline if inline is not None else (BODY_TAG, TEXT_TAG)
            content = []
            if self.text is not None:
                content.append({"type": "text/plain", "value": (text or "") + self.footer_text()})
            content.append({"type": "text/html", "value": html + self.footer_html()})
            message["content"] = content
        reply_to = self.reply_to(tagged=not step.template_id)
        if reply_to:
            message["reply_to"] = reply_to
        if campaign.unsubscribe_group_id is not None:
            message["asm"] = {"group_id": campaign.unsubscribe_group_id}
        if self.context.mode == "sandbox":
            message["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return message

    def personalization(
        self, send_id: str, row: dict[str, Any], email: str
    ) -> tuple[dict, tuple[str, str | None] | None]:
        """One recipient; returns it and, when the body is too large for a substitution, the body itself."""
        to: dict[str, str] = {"email": email}
        if row.get("full_name"):
            to["name"] = row["full_name"]
        item: dict[str, Any] = {
            "to": [to],
            "custom_args": {
                "send_id": send_id,
                "campaign": self.campaign.name,
                "step": self.step.id,
                "customer_id": row["customer_id"],
            },
        }
        subject = self.subject_for(row)
        if self.step.template_id:
            data = {name: _json_value(row.get(name)) for name in self.step.template_data}
            data["send_id"] = send_id
            if subject:
                data["subject"] = subject
            item["dynamic_template_data"] = data
            return item, None
        item["subject"] = subject
        html, text = self.body_for(row)
        substitutions = {REPLY_TAG: send_id}
        if len(html.encode()) + len((text or "").encode()) > MAX_SUBSTITUTION_BYTES:
            item["substitutions"] = substitutions
            return item, (html, text)
        substitutions[BODY_TAG] = html
        if text is not None:
            substitutions[TEXT_TAG] = text
        item["substitutions"] = substitutions
        return item, None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _arrow(
    columns: Sequence[str], rows: list[tuple], types: dict[str, pa.DataType] | None = None
) -> pa.Table:
    types = types or {}
    values = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pa.table(
        {
            name: pa.array(list(v), types.get(name, pa.string()))
            for name, v in zip(columns, values, strict=True)
        }
    )


def _connect_warehouse(warehouse: Path, zone: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(f"set TimeZone = '{zone}'")
    connection.execute("attach ? as wh (read_only)", [str(warehouse)])
    return connection


def _load_suppressions(connection: duckdb.DuckDBPyConnection, landing_dir: Path) -> None:
    """The temp table ``suppressions``: the operators' (``landing/sendgrid/suppressions``) and what SendGrid's
    lists, synced through its API, suppress now."""
    directory = landing_dir / "sendgrid" / "suppressions"
    files = sorted(str(p) for p in directory.glob("*.parquet")) if directory.is_dir() else []
    if files:
        connection.execute(
            """
            create temp table suppressions as
            select email_key, kind, group_id, created_at from read_parquet(?, union_by_name = true)
            """,
            [files],
        )
    else:
        connection.execute(
            "create temp table suppressions "
            "(email_key varchar, kind varchar, group_id bigint, created_at timestamptz)"
        )
    _add_listed_suppressions(connection, landing_dir)


def _add_listed_suppressions(connection: duckdb.DuckDBPyConnection, landing_dir: Path) -> None:
    """Add SendGrid's suppression lists as landed by their sync: the latest version of every entry that is
    not a tombstone (an address SendGrid no longer lists is no longer suppressed), keyed by the normalised
    address like the operators' rows, with its kind (bounce, spam_report, invalid_email,
    global_unsubscribe, group_unsubscribe and its group). Blocks are temporary and suppress nothing."""
    from connectors.apis.sendgrid_suppressions import current_suppressions

    listed = current_suppressions(landing_dir)
    if listed.num_rows == 0:
        return
    connection.register("listed_suppressions", listed)
    try:
        connection.execute(
            "insert into suppressions select email_key, kind, group_id, created_at from listed_suppressions"
        )
    finally:
        connection.unregister("listed_suppressions")


# What SendGrid's events say of an address, as a suppression: the latest of a group's unsubscribe and
# resubscribe wins; a blocked bounce is temporary (a full mailbox, a greylisting server): it suppresses
# nothing.
_EVENT_SUPPRESSIONS = {"unsubscribe": "global_unsubscribe", "spamreport": "spam_report", "bounce": "bounce"}


def _parquet_files(landing_dir: Path, source: str, entity: str) -> list[str]:
    """The zone's batches, less those an operator retired (``dripline retire-batch``), as dbt reads them."""
    from orchestration.lib.retired_batches import retired_batches

    directory = landing_dir / source / entity
    if not directory.is_dir():
        return []
    retired = {batch.load_id for batch in retired_batches(landing_dir.parent)}
    return sorted(str(p) for p in directory.glob("*.parquet") if p.stem not in retired)


def _add_event_suppressions(connection: duckdb.DuckDBPyConnection, landing_dir: Path, now: datetime) -> None:
    """Add to ``suppressions`` what the landed events until ``now`` say: an unsubscribe, a group unsubscribe
    (unless a later group resubscribe lifted it), a spam report or a hard bounce."""
    events = _parquet_files(landing_dir, "sendgrid", "events")
    if events:
        rows = connection.execute(
            """
            with exit_events as (
                select email, event, asm_group_id, event_at
                from read_parquet(?, union_by_name = true)
                where
                    event in ('unsubscribe', 'spamreport', 'bounce', 'group_unsubscribe', 'group_resubscribe')
                    and email is not null and event_at <= ?
                    and (event <> 'bounce' or coalesce(lower(type), 'bounce') <> 'blocked')
            )
            select email, event, asm_group_id, max(event_at) from exit_events
            where event not in ('group_unsubscribe', 'group_resubscribe')
            group by all
            union all
            select email, 'group_unsubscribe', asm_group_id, max(event_at) from exit_events
            where event in ('group_unsubscribe', 'group_resubscribe')
            group by email, asm_group_id
            having arg_max(event, event_at) = 'group_unsubscribe'
            """,
            [events, now],
        ).fetchall()
        suppressed = [
            (
                normalize_email(email)[0] or email.strip().lower(),
                _EVENT_SUPPRESSIONS.get(event, event),
                group_id,
                at,
            )
            for email, event, group_id, at in rows
        ]
        if suppressed:
            connection.register(
                "event_suppressions",
                _arrow(
                    ("email_key", "kind", "group_id", "created_at"),
                    suppressed,
                    {"group_id": pa.int64(), "created_at": pa.timestamp("us", tz="UTC")},
                ),
            )
            connection.execute("insert into suppressions by name select * from event_suppressions")
            connection.unregister("event_suppressions")


def _load_engagement(
    connection: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    ledger: SendLedger,
    campaign: Campaign,
    now: datetime,
) -> None:
    """What customers did with the mail, from the events and replies the receiver landed (until ``now``):

    - an unsubscribe, a group unsubscribe (unless resubscribed since), a spam report or a hard bounce joins
      the ``suppressions`` table, so it stops this and every other drip before the next step even when
      SendGrid's suppression lists were not pulled yet (a missed reconciliation);
    - a person's reply (not an automatic one) to a send of this campaign, found by the reply-to token, or else
      by the address it came from, fills ``replies`` (customer_id, cycle or null for any, replied_at).
    """
    _add_event_suppressions(connection, landing_dir, now)
    connection.execute(
        "create or replace temp table replies (customer_id varchar, cycle varchar, replied_at timestamptz)"
    )
    inbound = _parquet_files(landing_dir, "sendgrid", "replies")
    if not inbound:
        return
    human = connection.execute(
        """
        select reply_token, from_address, received_at from read_parquet(?, union_by_name = true)
        where auto_reply_reason is null and received_at <= ?
        """,
        [inbound, now],
    ).fetchall()
    tokens = sorted({token for token, _, _ in human if token})
    by_token = {}
    for start in range(0, len(tokens), 500):
        chunk = tokens[start : start + 500]
        for send_id, customer_id, cycle in ledger.rows(
            "sends",
            ("send_id", "customer_id", "cycle"),
            f"where campaign = ? and send_id in ({', '.join('?' * len(chunk))})",
            [campaign.name, *chunk],
        ):
            by_token[send_id] = (customer_id, cycle)
    matched = [(*by_token[token], at) for token, _, at in human if token in by_token]
    # No known token (a reply to the sender's own address, a forward): the customer whose address it is.
    senders = [
        (normalize_email(address)[0], at)
        for token, address, at in human
        if token not in by_token and address and normalize_email(address)[0]
    ]
    if senders:
        connection.register(
            "reply_senders",
            _arrow(("email_key", "replied_at"), senders, {"replied_at": pa.timestamp("us", tz="UTC")}),
        )
        matched += connection.execute(
            """
            select c.customer_id, null, r.replied_at
            from reply_senders as r inner join wh.main.customers as c on r.email_key = c.primary_email
            """
        ).fetchall()
        connection.unregister("reply_senders")
    if matched:
        connection.register(
            "reply_rows",
            _arrow(
                ("customer_id", "cycle", "replied_at"), matched, {"replied_at": pa.timestamp("us", tz="UTC")}
            ),
        )
        connection.execute("insert into replies by name select * from reply_rows")
        connection.unregister("reply_rows")


def resolve_unknown_sends(ledger: SendLedger, landing_dir: Path) -> int:
    """Sends left ``unknown`` (a run died between SendGrid's answer and recording it) that the landed events
    name by their send_id are marked sent, at their first event; returns how many. Call holding the lock."""
    unknown = [row[0] for row in ledger.rows("sends", ("send_id",), "where status = 'unknown'")]
    events = _parquet_files(landing_dir, "sendgrid", "events")
    if not unknown or not events:
        return 0
    with duckdb.connect() as connection:
        confirmations = connection.execute(
            """
            select send_id, min(event_at), min(split_part(sg_message_id, '.', 1))
            from read_parquet(?, union_by_name = true)
            where send_id in (select unnest(?::varchar[])) and event_at is not null
            group by send_id
            """,
            [events, unknown],
        ).fetchall()
    return ledger.confirm_unknown(confirmations)


def _audience_condition(campaign: Campaign) -> tuple[str, list[Any]]:
    conditions, params = ["true"], []
    if campaign.audience.segments:
        conditions.append("segment in (select unnest(?::varchar[]))")
        params.append(list(campaign.audience.segments))
    if campaign.audience.where:
        conditions.append(f"(\n{campaign.audience.where}\n)")
    return " and ".join(conditions), params


def _enrol(
    connection: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    ledger: SendLedger,
    now: datetime,
    zone: ZoneInfo,
    report: CampaignRunReport,
) -> None:
    started_at, first_run = ledger.campaign_started_at(campaign.name, now)
    trigger = campaign.trigger
    # A customer merged into another since enrolling is the same person: their enrolment counts for the
    # survivor, who is not enrolled (and mailed the same step) again.
    connection.execute(
        """
        create or replace temp table enrolled_people as
        select coalesce(history.customer_id, e.customer_id) as customer_id, e.cycle, e.exited_at
        from enrollments as e
        left join wh.main.customer_id_history as history on e.customer_id = history.retired_customer_id
        """
    )
    if trigger.type == "audience_entry":
        segments = list(campaign.audience.segments)
        outside = "segment is null or segment not in (select unnest(?::varchar[]))" if segments else "false"
        # Entered: since the customer's last version outside the audience's segments, else since first seen.
        candidates = (
            f"""
            with versions as (
                select m.customer_id, m.segment, m.dbt_valid_from, m.dbt_valid_to
                from wh.main.segment_memberships as m
                semi join audience on m.customer_id = audience.customer_id
            ),
            entered as (
                select
                    customer_id,
                    coalesce(
                        max(dbt_valid_to) filter (
                            where {outside}
                        ),
                        min(dbt_valid_from)
                    ) as entered_at
                from versions
                group by customer_id
            )
            select
                audience.customer_id, '' as cycle, coalesce(entered.entered_at, ?::timestamptz) as entered_at
            from audience
            left join entered on audience.customer_id = entered.customer_id
            anti join enrolled_people on audience.customer_id = enrolled_people.customer_id
            where ? or coalesce(entered.entered_at, ?::timestamptz) > ?::timestamptz
            """,
            [*([segments] if segments else []), now, trigger.enroll_existing and first_run, now, started_at],
        )
    elif trigger.type == "date":
        kind = customer_columns()[trigger.field]
        column = f'c."{trigger.field}"'
        if kind.startswith("varchar"):  # birthday: YYYY-MM-DD or --MM-DD
            month_day = f"right({column}, 5)"
            base_year = (
                f"case when {column} like '--%' then null else try_cast(left({column}, 4) as integer) end"
            )
        else:
            month_day = f"strftime({column}, '%m-%d')"
            base_year = f"year({column})"
        today = now.astimezone(zone).date()
        candidates = (
            f"""
            with base as (
                select c.customer_id, {month_day} as month_day, {base_year} as base_year
                from wh.main.customers as c
                semi join audience on c.customer_id = audience.customer_id
                where {column} is not null
            ),
            occurrences as (
                select
                    customer_id,
                    base_year,
                    years.y,
                    coalesce(
                        try_strptime(years.y || '-' || month_day, '%Y-%m-%d'),
                        case when month_day = '02-29' then try_strptime(years.y || '-02-28', '%Y-%m-%d') end
                    )::date as occurs_on
                from base
                cross join (select unnest([?, ? + 1]) as y) as years
            )
            select customer_id, strftime(occurs_on, '%Y-%m-%d') as cycle, ?::timestamptz as entered_at
            from occurrences
            where
                occurs_on between ?::date and ?::date + ?::integer
                and (base_year is null or (y > base_year and (y - base_year) % ? = 0))
                and not exists (
                    select 1 from enrolled_people as e
                    where e.customer_id = occurrences.customer_id
                        and e.cycle = strftime(occurs_on, '%Y-%m-%d')
                )
            qualify row_number() over (partition by customer_id order by occurs_on) = 1
            """,
            [today.year, today.year, now, today, today, trigger.days_before, trigger.every_years],
        )
    else:  # form_submission
        since = (
            now - timedelta(days=trigger.lookback_days)
            if trigger.enroll_existing and first_run
            else started_at
        )
        candidates = (
            """
            with latest as (
                select r.customer_id, arg_max(r.source || ':' || r.source_record_id, r.record_at) as cycle,
                    max(r.record_at) as entered_at
                from wh.main.customer_source_records as r
                semi join audience on r.customer_id = audience.customer_id
                where r.source in (select unnest(?::varchar[])) and r.record_at > ? and r.record_at <= ?
                group by r.customer_id
            )
            select latest.customer_id, latest.cycle, latest.entered_at
            from latest
            -- one drip at a time per customer, and each submission enrols once
            anti join enrolled_people as e
                on latest.customer_id = e.customer_id and (e.exited_at is null or e.cycle = latest.cycle)
            """,
            [list(trigger.sources), since, now],
        )
    query, params = candidates
    # The holdout draw is holdout_bucket's: the md5 of campaign:customer_id, its first 32 bits, mod 10,000.
    connection.execute(
        f"""
        create or replace temp table new_enrollments as
        select
            customer_id,
            cycle,
            entered_at,
            case
                when ('0x' || left(md5(? || ':' || customer_id), 8))::bigint % 10000 < ? then 'holdout'
                else 'treatment'
            end as treatment_group
        from ({query}) as candidates
        order by customer_id, cycle
        """,
        [campaign.name, campaign.holdout_percent * 100, *params],
    )
    rows = connection.execute(
        """
        select customer_id, cycle, strftime(entered_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%f+00:00'),
            treatment_group
        from new_enrollments
        order by customer_id, cycle
        """
    ).fetchall()
    report.enrolled = ledger.enroll(campaign.name, rows, now)
    report.holdout_enrolled = sum(1 for row in rows if row[3] == "holdout")
    # The ledger now holds what it held plus these: add them here rather than read the ledger back.
    connection.execute(
        """
        insert into enrollments
        select customer_id, cycle, ?::timestamptz, treatment_group, null, null
        from new_enrollments
        """,
        [now],
    )


def _load_ledger_state(
    connection: duckdb.DuckDBPyConnection, campaign: Campaign, ledger: SendLedger, now: datetime, mode: str
) -> None:
    # What the due-list reads of the enrolments: a million rows cross from SQLite through Python.
    columns = ("customer_id", "cycle", "enrolled_at", "treatment_group", "exited_at")
    enrollments = ledger.rows("enrollments", columns, "where campaign = ?", [campaign.name])
    connection.register("enrollments_rows", _arrow(columns, enrollments))
    connection.execute(
        """
        create or replace temp table enrollments as
        select customer_id, cycle, enrolled_at::timestamptz as enrolled_at, treatment_group,
            exited_at::timestamptz as exited_at, null::varchar as exit_reason
        from enrollments_rows
        """
    )
    connection.unregister("enrollments_rows")
    final = DRY_RUN_FINAL_STATUSES if mode == "dry_run" else FINAL_STATUSES
    done = ledger.rows(
        "sends",
        ("customer_id", "cycle", "step_index", "coalesce(sent_at, decided_at)"),
        # a failure after exhausted 5xx retries (or a refused key) is decided again
        f"where campaign = ? and status in ({', '.join('?' * len(final))}) "
        "and not (status = 'failed' and retryable)",
        [campaign.name, *final],
    )
    connection.register(
        "done_rows",
        _arrow(("customer_id", "cycle", "step_index", "done_at"), done, {"step_index": pa.int64()}),
    )
    connection.execute(
        """
        create or replace temp table progress as
        select customer_id, cycle, max(step_index) + 1 as next_index,
            max_by(done_at, step_index)::timestamptz as last_done_at
        from done_rows group by customer_id, cycle
        """
    )
    connection.unregister("done_rows")
    cap = campaign.frequency_cap
    counted = ("sent", "dry_run") if mode == "dry_run" else ("sent",)
    recent = (
        ledger.rows(
            "sends",
            ("customer_id",),
            "where purpose = 'marketing' and status in (?, ?) and sent_at > ?",
            [counted[0], counted[-1], iso(now - timedelta(days=cap.days))],
        )
        if cap and campaign.is_marketing
        else []
    )
    connection.register("recent_rows", _arrow(("customer_id",), recent))
    connection.execute(
        "create or replace temp table recent_sends as "
        "select customer_id, count(*) as n from recent_rows group by all"
    )
    connection.unregister("recent_rows")


def _exits(
    connection: duckdb.DuckDBPyConnection, campaign: Campaign, ledger: SendLedger, now: datetime
) -> Counter:
    exit_on = set(campaign.exit_on)
    kinds = SUPPRESSION_KINDS if campaign.is_marketing else SERVICE_SUPPRESSION_KINDS
    unsubscribe_kinds = [k for k in ("global_unsubscribe", "group_unsubscribe") if k in kinds]
    bounce_kinds = [k for k in ("bounce", "spam_report", "invalid_email", "erasure") if k in kinds]
    consent_at = "c.consent_email_at" if "consent_email_at" in customer_columns() else "null::timestamptz"
    rows = connection.execute(
        f"""
        with active as (
            select e.* from enrollments as e where e.exited_at is null
        ),
        customer_suppressions as (
            select c.customer_id, list(distinct s.kind) as kinds
            from wh.main.customers as c
            inner join suppressions as s
                on c.primary_email = s.email_key
                and (s.kind <> 'group_unsubscribe' or s.group_id is not distinct from ?)
            group by c.customer_id
        ),
        replied as (
            select distinct active.customer_id, active.cycle
            from active inner join replies as r
                on active.customer_id = r.customer_id
                and (r.cycle is null or r.cycle = active.cycle)
                and r.replied_at > active.enrolled_at
        )
        select active.customer_id, active.cycle,
            case
                when ? and list_has_any(cs.kinds, ?::varchar[]) then 'bounced'
                when ? and (
                    list_has_any(cs.kinds, ?::varchar[])
                    or (? and not c.consent_email and {consent_at} > active.enrolled_at)
                ) then 'unsubscribed'
                when ? and replied.customer_id is not null then 'replied'
                when ? and c.last_purchase_at > active.enrolled_at then 'converted'
                when ? and audience.customer_id is null then 'left_audience'
            end as reason
        from active
        left join wh.main.customers as c on active.customer_id = c.customer_id
        left join audience on active.customer_id = audience.customer_id
        left join customer_suppressions as cs on active.customer_id = cs.customer_id
        left join replied on active.customer_id = replied.customer_id and active.cycle = replied.cycle
        where reason is not null
        """,
        [
            campaign.unsubscribe_group_id,
            "bounced" in exit_on,
            bounce_kinds or [""],
            "unsubscribed" in exit_on,
            unsubscribe_kinds or [""],
            campaign.is_marketing,
            "replied" in exit_on,
            "converted" in exit_on,
            "left_audience" in exit_on,
        ],
    ).fetchall()
    ledger.exit([(campaign.name, customer_id, cycle, reason) for customer_id, cycle, reason in rows], now)
    if rows:
        # One update joined to the exits: executemany scans the enrolments once per exit.
        connection.register("exit_rows", _arrow(("customer_id", "cycle", "exit_reason"), rows))
        connection.execute(
            """
            update enrollments set exited_at = ?, exit_reason = exit_rows.exit_reason
            from exit_rows
            where enrollments.customer_id = exit_rows.customer_id and enrollments.cycle = exit_rows.cycle
            """,
            [now],
        )
        connection.unregister("exit_rows")
    return Counter(reason for _, _, reason in rows)


def _decide(connection: duckdb.DuckDBPyConnection, campaign: Campaign, context: SendContext) -> list[tuple]:
    """The due-list, a decision per row, in the fields of send_ledger.Decision."""
    steps = [(i, step.id, int(step.delay.total_seconds())) for i, step in enumerate(campaign.steps)]
    connection.register(
        "steps_rows",
        _arrow(
            ("step_index", "step", "wait_seconds"),
            steps,
            {"step_index": pa.int64(), "wait_seconds": pa.int64()},
        ),
    )
    kinds = list(SUPPRESSION_KINDS if campaign.is_marketing else SERVICE_SUPPRESSION_KINDS)
    cap = campaign.frequency_cap
    quiet = in_quiet_hours(context.now, campaign, context.zone)
    connection.execute(
        """
        create or replace temp table reasons as
        with active as (
            select e.*, coalesce(p.next_index, 0) as next_index, p.last_done_at
            from enrollments as e
            left join progress as p on e.customer_id = p.customer_id and e.cycle = p.cycle
            where e.exited_at is null
        ),
        due as (
            select active.*, steps_rows.step
            from active
            inner join steps_rows on active.next_index = steps_rows.step_index
            where coalesce(active.last_done_at, active.enrolled_at) + to_seconds(steps_rows.wait_seconds) <= ?
        ),
        customer_suppressions as (
            select c.customer_id, min(s.kind) as kind
            from wh.main.customers as c
            semi join due on c.customer_id = due.customer_id
            inner join suppressions as s
                on c.primary_email = s.email_key
                and s.kind in (select unnest(?::varchar[]))
                and (s.kind <> 'group_unsubscribe' or s.group_id is not distinct from ?)
            group by c.customer_id
        )
        select
            -- send_id_for(campaign, step, customer_id, cycle)
            left(sha256(concat_ws(chr(31), ?, due.step, due.customer_id, due.cycle)), 24) as send_id,
            ? as campaign,
            ? as purpose,
            due.step,
            due.next_index,
            due.customer_id,
            due.cycle,
            -- the address as written, domain lower-cased
            nullif(
                regexp_extract(trim(c.email_address), '^(.+)@[^@]+$', 1)
                || '@'
                || lower(regexp_extract(trim(c.email_address), '^.+@([^@]+)$', 1)),
                '@'
            ) as email,
            case
                when c.email_address is null then 'no_email'
                when ? and not c.consent_email then 'no_consent'
                when cs.kind is not null then 'suppressed: ' || cs.kind
                when due.treatment_group = 'holdout' then 'holdout'
                when coalesce(recent_sends.n, 0) >= ? then 'frequency_cap'
                when ? then 'quiet_hours'
            end as reason
        from due
        inner join wh.main.customers as c on due.customer_id = c.customer_id
        left join customer_suppressions as cs on due.customer_id = cs.customer_id
        left join recent_sends on due.customer_id = recent_sends.customer_id
        """,
        [
            context.now,
            kinds,
            campaign.unsubscribe_group_id,
            campaign.name,
            campaign.name,
            campaign.purpose,
            campaign.is_marketing,
            cap.max_sends if cap else 2**62,
            quiet,
        ],
    )
    connection.unregister("steps_rows")
    # A null reason is a send, the holdout is a status of its own, every other reason a skip (a deferral).
    return connection.execute(
        """
        select
            send_id, campaign, purpose, step, next_index, customer_id, cycle, email,
            case when reason is null then 'queued' when reason = 'holdout' then 'holdout' else 'skipped' end,
            case when reason <> 'holdout' then reason end
        from reasons
        order by next_index, customer_id, cycle
        """
    ).fetchall()


def _complete(
    connection: duckdb.DuckDBPyConnection, campaign: Campaign, ledger: SendLedger, now: datetime
) -> int:
    """Enrolments that had every step leave with exit_reason 'completed'."""
    rows = connection.execute(
        """
        select e.customer_id, e.cycle from enrollments as e
        inner join progress as p on e.customer_id = p.customer_id and e.cycle = p.cycle
        where e.exited_at is null and p.next_index >= ?
        """,
        [len(campaign.steps)],
    ).fetchall()
    completed = ledger.exit(
        [(campaign.name, customer_id, cycle, "completed") for customer_id, cycle in rows], now
    )
    connection.execute(
        """
        update enrollments set exited_at = ?, exit_reason = 'completed'
        from progress
        where enrollments.customer_id = progress.customer_id and enrollments.cycle = progress.cycle
            and enrollments.exited_at is null and progress.next_index >= ?
        """,
        [now, len(campaign.steps)],
    )
    return completed


def _rendered_columns(campaign: Campaign) -> list[str]:
    """The customers columns sending a campaign reads: the id, name and phone (the recipient's region), and
    every variable its templates name (load_campaigns checked that each is a customers column)."""
    names = {"customer_id", "full_name", "primary_phone"}
    for step in campaign.steps:
        for source in (step.subject, campaign.template_source(step), step.text):
            if source:
                names |= template_variables(source)
        if step.template_id:
            names |= set(step.template_data)
    return [name for name in customer_columns() if name in names]


def _customer_rows(
    connection: duckdb.DuckDBPyConnection, customer_ids: list[str], columns: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Customer rows by id: every column, or only ``columns`` (half a million rows of every column, each
    timestamp a Python datetime, take seconds)."""
    if not customer_ids:
        return {}
    selected = ", ".join(f'"{name}"' for name in columns) if columns else "*"
    # fetchall, not Arrow's to_pylist: that converts each tz-aware timestamp through the zone, ~3x slower.
    result = connection.execute(
        f"select {selected} from wh.main.customers where customer_id in (select unnest(?::varchar[]))",
        [customer_ids],
    )
    names = [column[0] for column in result.description]
    return {
        row["customer_id"]: row
        for row in (dict(zip(names, values, strict=True)) for values in result.fetchall())
    }


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_outbox(context: SendContext, campaign: Campaign, step: Step, batch_id: str, message: dict) -> None:
    directory = context.outbox_dir / campaign.name / step.id
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{batch_id}.json.gz"
    temp = directory / f".tmp-{batch_id}.json.gz"
    with gzip.open(temp, "wt", encoding="utf-8", compresslevel=1) as handle:
        json.dump(message, handle, ensure_ascii=False)
    os.replace(temp, target)


def _send(
    campaign: Campaign,
    ledger: SendLedger,
    queued: list[tuple[str, str, int, str]],
    customers: dict[str, dict[str, Any]],
    context: SendContext,
    mailer: Mailer | None,
    report: CampaignRunReport,
) -> None:
    """queued: (send_id, customer_id, step_index, email), in step order."""
    by_step: dict[int, list[tuple[str, str, int, str]]] = {}
    for item in queued:
        by_step.setdefault(item[2], []).append(item)
    for step_index, items in by_step.items():
        step = campaign.steps[step_index]
        renderer = StepRenderer(campaign, step, context)
        shared: list[tuple[str, dict]] = []
        alone: list[tuple[str, dict, tuple[str, str | None]]] = []
        for send_id, customer_id, _, email in items:
            personalization, inline = renderer.personalization(send_id, customers[customer_id], email)
            if inline is None:
                shared.append((send_id, personalization))
            else:
                alone.append((send_id, personalization, inline))
        requests = [
            (batch, renderer.message([p for _, p in batch])) for batch in _batches(shared, context.batch_size)
        ] + [([(send_id, p)], renderer.message([p], inline=body)) for send_id, p, body in alone]
        for batch, message in requests:
            send_ids = [send_id for send_id, _ in batch]
            batch_id = uuid.uuid4().hex
            ledger.mark_sending(send_ids, batch_id, context.mode)
            if context.mode == "dry_run" or mailer is None:
                _write_outbox(context, campaign, step, batch_id, message)
                outcomes = [
                    Outcome(send_id, "dry_run", "dry run: recorded in the outbox, not sent", None)
                    for send_id in send_ids
                ]
            else:
                try:
                    result = mailer.send(message)
                except SendGridError as error:
                    # What SendGrid settled before it stopped us is recorded as settled; the rest of the batch
                    # never reached it (a refused key) and is decided again on the next run.
                    settled = error.result
                    outcomes = (
                        [_outcome(send_ids[o.index], o, settled.sandbox) for o in settled.outcomes]
                        if settled is not None and len(settled.outcomes) == len(send_ids)
                        else [
                            Outcome(s, "failed", f"not sent: {error}", None, retryable=True) for s in send_ids
                        ]
                    )
                    ledger.record_outcomes(outcomes, context.now)
                    raise
                report.requests += result.requests
                report.retries += result.retries
                report.rate_limit_waits += result.rate_limit_waits
                outcomes = [_outcome(send_ids[o.index], o, result.sandbox) for o in result.outcomes]
            ledger.record_outcomes(outcomes, context.now)
            report.statuses.update(o.status for o in outcomes)


def _outcome(send_id: str, outcome: Any, sandbox: bool) -> Outcome:
    if outcome.status == "accepted":
        if sandbox:
            return Outcome(
                send_id, "dry_run", "sandbox: accepted by SendGrid, not delivered", outcome.message_id
            )
        return Outcome(send_id, "sent", None, outcome.message_id)
    if outcome.status == "failed":
        return Outcome(send_id, "failed", outcome.error, None, retryable=outcome.retryable)
    return Outcome(
        send_id, "unknown", outcome.error or "no answer from SendGrid; held for reconciliation", None
    )


def preview(
    connection: duckdb.DuckDBPyConnection, campaign: Campaign, context: SendContext, customer_id: str | None
) -> list[dict[str, str]]:
    """Each step's message rendered for one customer of the audience, as a marketer reads it."""
    row = _customer_rows(connection, [customer_id]).get(customer_id) if customer_id else None
    if row is None:
        return []
    previews = []
    for step in campaign.steps:
        renderer = StepRenderer(campaign, step, context)
        html, _ = renderer.body_for(row)
        previews.append(
            {
                "step": step.id,
                "wait": step.wait,
                "subject": renderer.subject_for(row) or f"(dynamic template {step.template_id})",
                "html": (html or f"(dynamic template {step.template_id})") + renderer.footer_html(),
            }
        )
    return previews


def plan_campaign(
    campaign: Campaign,
    warehouse: Path,
    landing_dir: Path,
    ledger: SendLedger,
    context: SendContext,
    report: CampaignRunReport,
) -> list[tuple]:
    """Enrol and exit (recorded in the ledger), then the due-list: a decision per row, in the fields of
    send_ledger.Decision. Call it holding the ledger's lock; nothing is sent."""
    now = context.now
    with _connect_warehouse(warehouse, context.zone.key) as connection:
        _load_suppressions(connection, landing_dir)
        _load_engagement(connection, landing_dir, ledger, campaign, now)
        condition, params = _audience_condition(campaign)
        connection.execute(
            f"create temp table audience as select customer_id from wh.main.customers where {condition}",
            params,
        )
        report.audience = connection.execute("select count(*) from audience").fetchall()[0][0]
        _load_ledger_state(connection, campaign, ledger, now, context.mode)
        _enrol(connection, campaign, ledger, now, context.zone, report)
        report.exited = _exits(connection, campaign, ledger, now)
        completed = _complete(connection, campaign, ledger, now)
        if completed:
            report.exited["completed"] += completed
        decided = _decide(connection, campaign, context)
        report.due = len(decided)
        report.active = connection.execute(
            "select count(*) from enrollments where exited_at is null"
        ).fetchall()[0][0]
        first_queued = next((row[5] for row in decided if row[8] == "queued"), None)
        first = first_queued or connection.execute("select min(customer_id) from audience").fetchall()[0][0]
        report.previews = preview(connection, campaign, context, first)
        for status, reason, count in connection.execute(
            """
            select case when reason is null then 'queued' when reason = 'holdout' then 'holdout' end,
                split_part(reason, ':', 1), count(*)
            from reasons group by all
            """
        ).fetchall():
            if status == "holdout":
                report.statuses["holdout"] += count
            elif status is None:
                report.skipped[reason] += count
    # Plain tuples in the fields of Decision: a named tuple each costs seconds at a million.
    return decided


def run_campaign(
    campaign: Campaign,
    warehouse: Path,
    landing_dir: Path,
    ledger: SendLedger,
    context: SendContext,
    mailer: Mailer | None,
    lock_timeout: float = 600.0,
    on_locked: Callable[[], None] | None = None,
) -> CampaignRunReport:
    """Enrol, exit, decide and send one campaign at ``context.now``; see the module docstring."""
    report = CampaignRunReport(campaign=campaign.name, mode=context.mode)
    with ledger.exclusive(lock_timeout):
        if on_locked:
            on_locked()
        report.recovered_unknown, _ = ledger.recover(context.now)
        report.confirmed_unknown = resolve_unknown_sends(ledger, landing_dir)
        decisions = plan_campaign(campaign, warehouse, landing_dir, ledger, context, report)
        queued_ids = set(ledger.decide(decisions, context.now, claim=uuid.uuid4().hex))
        queued = [
            (d[SEND_ID], d[CUSTOMER_ID], d[STEP_INDEX], d[EMAIL])
            for d in decisions
            if d[SEND_ID] in queued_ids
        ]
        # Only the rows that will be rendered, and only the columns their templates name.
        with _connect_warehouse(warehouse, context.zone.key) as connection:
            customers = _customer_rows(
                connection, sorted({item[1] for item in queued}), _rendered_columns(campaign)
            )
        _send(campaign, ledger, queued, customers, context, mailer, report)
    return report


SUPPRESSION_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("email", pa.string(), nullable=False),
        pa.field("email_key", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("group_id", pa.int64()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("reason", pa.string()),
        pa.field("origin", pa.string()),
    ]
)


def suppressions_zone(landing_dir: Path) -> LandingZone:
    """Addresses never to mail: SendGrid's suppression lists (tracking), operators' erasures and opt-outs."""
    return LandingZone(landing_dir, "sendgrid", "suppressions", schema=SUPPRESSION_SCHEMA)


def land_suppressions(landing_dir: Path, rows: Sequence[dict[str, Any]], origin: str) -> int:
    """Land suppressions (email, kind, group_id?, created_at?, reason?) as one batch; returns the rows landed.

    The matching key is the normalised address (as identity matches), so a suppression written with other
    dots or +tags on a Gmail address still stops every mail to that customer.
    """
    zone = suppressions_zone(landing_dir)
    zone.prepare()
    records = []
    for row in rows:
        if row["kind"] not in SUPPRESSION_KINDS:
            raise ValueError(
                f"unknown suppression kind {row['kind']!r}; kinds: {', '.join(SUPPRESSION_KINDS)}"
            )
        key = normalize_email(row["email"])[0] or row["email"].strip().lower()
        records.append(
            {
                "email": row["email"],
                "email_key": key,
                "kind": row["kind"],
                "group_id": row.get("group_id"),
                "created_at": row.get("created_at") or datetime.now(UTC),
                "reason": row.get("reason"),
                "origin": origin,
            }
        )
    digest = hashlib.sha256(json.dumps(records, default=str, sort_keys=True).encode()).hexdigest()
    return zone.write_batch(f"{origin}-{digest[:32]}", records)


def ineligible_sends(settings: DriplineSettings, campaign: Campaign, decided_at: str) -> int:
    """Sends of this decision instant that went (or would have gone) to a customer not eligible then: no
    address, a holdout, no consent for marketing, or a suppression. Read afresh from the ledger, the warehouse
    and landing, independently of the due-list that decided them."""
    ledger = ledger_for(settings)
    sent = ledger.rows(
        "sends",
        ("send_id", "customer_id", "cycle", "email"),
        "where campaign = ? and sent_at = ? and status in ('sent', 'dry_run', 'unknown')",
        [campaign.name, decided_at],
    )
    if not sent:
        return 0
    holdouts = {
        (customer_id, cycle)
        for customer_id, cycle in ledger.rows(
            "enrollments",
            ("customer_id", "cycle"),
            "where campaign = ? and treatment_group = 'holdout'",
            [campaign.name],
        )
    }
    kinds = SUPPRESSION_KINDS if campaign.is_marketing else SERVICE_SUPPRESSION_KINDS
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        customers = {
            customer_id: (consent, key)
            for customer_id, consent, key in connection.execute(
                "select customer_id, consent_email, primary_email from customers "
                "where customer_id in (select unnest(?::varchar[]))",
                [[row[1] for row in sent]],
            ).fetchall()
        }
    # Every source of suppression the send path reads: the operators', SendGrid's lists, and the events
    # landed until the decision.
    with duckdb.connect() as connection:
        _load_suppressions(connection, settings.landing_dir)
        _add_event_suppressions(connection, settings.landing_dir, datetime.fromisoformat(decided_at))
        suppressed = {
            key
            for (key,) in connection.execute(
                "select email_key from suppressions where kind in (select unnest(?::varchar[])) "
                "and (kind <> 'group_unsubscribe' or group_id is not distinct from ?)",
                [list(kinds), campaign.unsubscribe_group_id],
            ).fetchall()
        }
    violations = 0
    for _, customer_id, cycle, email in sent:
        consent, key = customers.get(customer_id, (None, None))
        if (
            not email
            or customer_id not in customers
            or (customer_id, cycle) in holdouts
            or (campaign.is_marketing and not consent)
            or key in suppressed
        ):
            violations += 1
    return violations
