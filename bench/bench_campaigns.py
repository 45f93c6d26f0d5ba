"""`make bench` (third part): the campaign send path at scale, on a synthetic warehouse.

The send path reads four warehouse tables (customers, segment_memberships, customer_source_records,
customer_id_history), the suppressions in landing and the SQLite send ledger (orchestration/lib/outreach.py,
send_ledger.py). This bench writes those tables straight into a DuckDB warehouse with SQL (every column of the
customers contract, from `customer_columns()`; ~60 % consented, ~8 % without an email, Korean and romanised
names, ~3 % US phones, ~0.3 % of addresses suppressed through `land_suppressions`) and a campaign file in a
campaigns folder of its own (marketing, audience entry with enroll_existing, 10 % holdout, a frequency cap,
two steps three days apart, Jinja subjects and HTML bodies with {{ full_name }}), loaded with
`load_campaigns`. Each stage runs in a child process of its own, so the kernel reports that stage's own peak
resident memory (`os.wait4`), as `bench/bench.py` does:

1. campaigns/due-list at `--customers` (default 1M): `plan_campaign` holding the ledger lock (recover,
   enrol, exits, the DuckDB due-list and its decisions, the customer rows of those to mail). The first run
   enrols every customer (1M enrolment rows into SQLite). Then, as setup (timed apart, not a target), step 1
   is recorded as the send path would record it (`decide`, `mark_sending`, `record_outcomes` with `sent`),
   and the next run plans as of three days later, when step 2 is due for the mailed and the holdout.
   Target (issue): under 10 s.
2. campaigns/send at `--recipients` (default 100k): `run_campaign` in live mode with
   `connectors.apis.sendgrid.SendGridMailer` (batch size 1000, `retry_timeouts=False` as the Dagster asset
   builds it) against the loopback SendGrid fake in a process of its own (`python -m tests.fakes.sendgrid
   --record FILE`), the ledger included. The warehouse is cut so that exactly `--recipients` customers are
   eligible (email, consent, not suppressed, not holdout). Afterwards the fake's record file must show every
   recipient the ledger calls sent accepted exactly once, at the address the ledger holds, and nothing else;
   anything else fails the bench. Target (issue): under 60 s including the ledger.
3. campaigns/dry-run at the same size: the same step as a dry run (request bodies written to the outbox),
   on a copy of that warehouse with a fresh ledger, for comparison.

`seconds` is the measured call inside the child (plan_campaign, run_campaign); `child s` adds the child's
interpreter start and imports. Homes live under bench/out/ and are removed unless `--keep`; `--profile`
writes a cProfile of each timed call to bench/out/campaigns-<stage>.prof (and its top lines beside it).
Results go to bench/out/campaigns_results.json.

    .venv/bin/python bench/bench_campaigns.py [--customers 1000000] [--recipients 100000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# bench.py beside this script: each stage runs in a child, timed the same way.
from bench import _run_child

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
CAMPAIGN = "bench_welcome"
API_KEY = "SG.bench-campaigns-key"
UNSUBSCRIBE_GROUP = 21001
HOLDOUT_PERCENT = 10
BATCH_SIZE = 1000
SEOUL = ZoneInfo("Asia/Seoul")
DAY0 = datetime(2026, 11, 16, 10, 0, tzinfo=SEOUL)
NEXT_RUN = DAY0 + timedelta(days=3)
SEGMENTS_FILE = REPO_ROOT / "segments.yml"

# (segment, lifecycle_stage, share of customers in %); prospects never bought.
SEGMENT_MIX = [
    ("cold_prospects", "prospect", 35),
    ("warm_prospects", "prospect", 25),
    ("first_time_buyers", "new", 14),
    ("repeat_buyers", "repeat", 9),
    ("loyal_regulars", "regular", 5),
    ("at_risk_regulars", "at_risk", 4),
    ("churned", "churned", 4),
    ("large_accounts", "regular", 2),
    ("vip_accounts", "vip", 2),
]
# Kinds of the ~0.3 % suppressed addresses, in turn; every one of them stops this marketing campaign.
SUPPRESSED_KINDS = ["global_unsubscribe", "bounce", "group_unsubscribe", "spam_report", "invalid_email"]


def campaign_definition() -> dict[str, Any]:
    return {
        "name": CAMPAIGN,
        "description": "Bench: welcome every customer, then a second-order nudge three days later",
        "purpose": "marketing",
        "audience": {"segments": [segment for segment, _, _ in SEGMENT_MIX]},
        "trigger": {"type": "audience_entry", "enroll_existing": True},
        "holdout_percent": HOLDOUT_PERCENT,
        "sender": {
            "email": "hello@masitneun-catering.example",
            "name": "맛있는케이터링",
            "address": "서울특별시 성동구 성수이로 113, 4층 (우 04782)",
        },
        "reply_to": "replies@reply.masitneun-catering.example",
        "categories": ["bench"],
        "unsubscribe_group_id": UNSUBSCRIBE_GROUP,
        "exit_on": ["replied", "converted", "unsubscribed", "bounced", "left_audience"],
        "frequency_cap": {"max_sends": 2, "days": 7},
        "steps": [
            {
                "id": "welcome",
                "wait": "0d",
                "subject": "{{ full_name or '고객' }}님, 첫 주문 감사합니다",
                "html": (
                    "<p>{{ full_name or '고객' }}님, 안녕하세요.</p>\n"
                    "<p>{% if company %}{{ company }}의 {% endif %}첫 케이터링을 맡겨 주셔서 감사합니다. "
                    "행사는 어떠셨나요? 메뉴나 서비스에 아쉬운 점이 있었다면 이 메일에 답장으로 알려 "
                    "주세요.</p>\n<p>다음 주문 때는 정기 배송과 단체 메뉴도 둘러보세요.</p>"
                ),
            },
            {
                "id": "reorder_nudge",
                "wait": "3d",
                "subject": "{{ full_name or '고객' }}님, 두 번째 케이터링은 10% 할인해 드려요",
                "html": (
                    "<p>{{ full_name or '고객' }}님, 지난 주문은 만족스러우셨나요?</p>\n"
                    "<p>다음 행사도 맡겨 주시면 두 번째 주문을 <strong>10% 할인</strong>해 드립니다.</p>"
                ),
            },
        ],
    }


# --- the synthetic warehouse ----------------------------------------------------------------------------


def _customer_expressions() -> dict[str, str]:
    """SQL over the `people` CTE for each customers column we know; others are null (and reported)."""
    return {
        "customer_id": "customer_id",
        "full_name": """case
            when r_name < 80 then surname_ko || given_ko
            when r_name < 97 then given_en || ' ' || surname_en
        end""",
        "primary_email": """case when has_email then lower(
            case when domain = 'gmail.com' then replace(local, '.', '') else local end
        ) || '@' || domain end""",
        "email_address": """case when has_email then
            case when r_case < 5 then upper(local[1]) || local[2:] || '@' || upper(domain[1]) || domain[2:]
            else local || '@' || domain end
        end""",
        "primary_phone": """case
            when r_phone < 85 then '+8210' || lpad(cast(hash(i, 8) % 100000000 as varchar), 8, '0')
            when r_phone < 88 then '+1415555' || lpad(cast(i % 10000 as varchar), 4, '0')
        end""",
        "company": "case when has_company then company_name end",
        "industry": "case when has_company then ['케이터링', '푸드', '이벤트', '소프트웨어'][1 + i % 4] end",
        "company_size": "case when has_company then ['1-10', '11-50', '51-200', '201-500'][1 + i % 4] end",
        "birthday": """case
            when r_birthday < 20 then cast(1960 + i % 45 as varchar) || '-' || month_day
            when r_birthday < 25 then '--' || month_day
        end""",
        "consent_email": "r_consent < 60",
        "consent_email_at": """case
            when r_consent < 60 or r_consent >= 85 then first_seen_at + to_days(cast(i % 30 as integer))
        end""",
        "source_count": "cast(1 + (i % 4 = 0)::int as bigint)",
        "record_count": "cast(1 + i % 3 as bigint)",
        "first_seen_at": "first_seen_at",
        "last_seen_at": "first_seen_at + to_days(cast(i % 200 as integer))",
        "sources": "case when i % 4 = 0 then 'forms,' || source else source end",
        "purchase_count": "purchase_count",
        "total_value": """case when purchase_count > 0
            then purchase_count * (50000.0 + hash(i, 10) % 900000) end""",
        "currency": "case when purchase_count > 0 then 'KRW' end",
        "first_purchase_at": "case when purchase_count > 0 then first_seen_at + to_days(7) end",
        "last_purchase_at": """case when purchase_count > 0
            then first_seen_at + to_days(cast(7 + i % 150 as integer)) end""",
        "owner": "cast(i % 20 as varchar)",
        "lifecycle_stage": "lifecycle_stage",
        "account_tier": "case when has_company then ['small', 'mid', 'large'][1 + i % 3] end",
        "channel": "case when i % 3 = 0 then 'offline' else 'online' end",
        "rfm_score": """case when purchase_count > 0
            then cast(1 + i % 5 as varchar) || cast(1 + i % 4 as varchar)
                || cast(1 + i % 5 as varchar) end""",
        "segment": "segment",
    }


PEOPLE_SQL = """
create or replace temp table people as
with drawn as (
    select
        i,
        'cus_' || left(md5('bench:' || i), 16) as customer_id,
        hash(i, 1) % 100 as r_name,
        hash(i, 2) % 100 as r_mail,
        hash(i, 3) % 100 as r_consent,
        hash(i, 4) % 100 as r_phone,
        hash(i, 5) % 100 as r_company,
        hash(i, 6) % 100 as r_segment,
        hash(i, 7) % 100 as r_case,
        hash(i, 11) % 100 as r_birthday,
        hash(i, 9) % 1000 < 3 as is_suppressed,
        timestamptz '2024-01-01 09:00:00+09' + to_days(cast(hash(i, 12) % 600 as integer)) as first_seen_at,
        cast(hash(i, 20) % 1000000 as bigint) as h_surname,
        cast(hash(i, 21) % 1000000 as bigint) as h_given,
        cast(hash(i, 22) % 1000000 as bigint) as h_mail
    from range(?) as t (i)
)
select
    drawn.*,
    $surnames_ko[1 + h_surname % len($surnames_ko)] as surname_ko,
    $surnames_en[1 + h_surname % len($surnames_en)] as surname_en,
    $given_ko[1 + h_given % len($given_ko)] as given_ko,
    $given_en[1 + h_given % len($given_en)] as given_en,
    r_mail >= 8 as has_email,
    r_company < 25 as has_company,
    $companies[1 + i % len($companies)] || case when i >= len($companies) then ' ' || i % 5000 else '' end
        as company_name,
    case
        when r_company < 20 then 'co' || i % 5000 || '.co.kr'
        else $free_mail[1 + h_mail % len($free_mail)]
    end as domain,
    lower($given_en[1 + h_given % len($given_en)]) || '.'
        || lower($surnames_en[1 + h_surname % len($surnames_en)]) || i as local,
    lpad(cast(1 + i % 12 as varchar), 2, '0') || '-'
        || lpad(cast(1 + i % 28 as varchar), 2, '0') as month_day,
    ['forms', 'spreadsheets', 'pipedrive', 'hubspot', 'typeform'][1 + i % 5] as source,
    $segments[
        list_position($cumulative, list_filter($cumulative, lambda c: c > r_segment)[1])
    ] as segment,
    $stages[
        list_position($cumulative, list_filter($cumulative, lambda c: c > r_segment)[1])
    ] as lifecycle_stage
from drawn
"""


def _name_lists() -> dict[str, list[str]]:
    sys.path.insert(0, str(REPO_ROOT))
    from scripts import synthetic_contacts as sc

    cumulative, total = [], 0
    for _, _, share in SEGMENT_MIX:
        total += share
        cumulative.append(total)
    return {
        "surnames_ko": list(sc.SURNAMES),
        "surnames_en": list(sc.SURNAMES_ROMAN),
        "given_ko": list(sc.GIVEN),
        "given_en": list(sc.GIVEN_ROMAN[: len(sc.GIVEN)]),
        "companies": list(sc.COMPANIES),
        "free_mail": list(sc.FREE_MAIL),
        "segments": [segment for segment, _, _ in SEGMENT_MIX],
        "stages": [stage for _, stage, _ in SEGMENT_MIX],
        "cumulative": cumulative,
    }


def generate(home: Path, n_customers: int, recipients: int | None) -> dict[str, Any]:
    """Child-process body: the warehouse, the suppressions and the campaign file of one home.

    With ``recipients`` the warehouse holds the first customers up to and including the one that makes
    ``recipients`` eligible for step 1 (email, consent, not suppressed, not in the holdout)."""
    import duckdb
    import yaml

    from orchestration.lib.campaigns import customer_columns, load_campaigns
    from orchestration.lib.outreach import land_suppressions
    from orchestration.lib.segments import load_segments

    started = time.perf_counter()
    columns = dict(customer_columns())
    expressions = _customer_expressions()
    missing = [name for name in columns if name not in expressions]
    home.mkdir(parents=True, exist_ok=True)
    warehouse = home / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    pool = n_customers if recipients is None else math.ceil(recipients / 0.40) + 1000
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set TimeZone = 'Asia/Seoul'")
        connection.execute(PEOPLE_SQL.replace("range(?)", f"range({int(pool)})"), _name_lists())
        connection.execute(
            """
            create or replace temp table people_buying as
            select *,
                case when lifecycle_stage = 'prospect' then 0
                    when lifecycle_stage = 'new' then 1
                    else 2 + cast(hash(i, 13) % 9 as integer) end as purchase_count,
                ('0x' || left(md5(? || ':' || customer_id), 8))::ubigint % 10000 < ? as is_holdout
            from people
            """,
            [CAMPAIGN, HOLDOUT_PERCENT * 100],
        )
        eligible = "has_email and r_consent < 60 and not is_suppressed and not is_holdout"
        keep = ""
        if recipients is not None:
            keep = (
                f"qualify coalesce(sum(({eligible})::int) over (order by i rows between unbounded "
                f"preceding and 1 preceding), 0) < {int(recipients)}"
            )
        select = ",\n".join(
            f'cast({expressions.get(name, "null")} as {kind}) as "{name}"' for name, kind in columns.items()
        )
        connection.execute(
            f"""
            create or replace temp table kept as
            select * from people_buying {keep}
            """
        )
        connection.execute(f"create table customers as select {select} from kept order by i")
        connection.execute(
            """
            create table segment_memberships as
            -- one open version per customer; a tenth were unsegmented before (entered the audience later)
            select customer_id, segment,
                first_seen_at + case when i % 10 = 0 then to_days(30) else to_days(0) end as dbt_valid_from,
                null::timestamptz as dbt_valid_to
            from kept
            union all
            select customer_id, null, first_seen_at, first_seen_at + to_days(30)
            from kept where i % 10 = 0
            """
        )
        connection.execute(
            """
            create table customer_id_history as
            -- one in two hundred customers absorbed another customer in a merge
            select 'cus_' || left(md5('bench-retired:' || i), 16) as retired_customer_id, customer_id,
                first_seen_at + to_days(60) as retired_at, 'merged' as reason
            from kept where i % 200 = 0
            """
        )
        connection.execute(
            """
            create table customer_source_records as
            select customer_id, unnest(string_split(
                case when i % 4 = 0 then 'forms,' || source else source end, ','
            )) as source, 'r' || i as source_record_id, first_seen_at as record_at
            from kept
            """
        )
        suppressed = connection.execute(
            f"""
            select {expressions["email_address"]} as email, row_number() over (order by i) as n
            from kept where has_email and is_suppressed
            """
        ).fetchall()
        counts = connection.execute(
            f"""
            select count(*), count(*) filter (where {eligible}), count(*) filter (where has_email),
                count(*) filter (where r_consent < 60), count(*) filter (where is_holdout)
            from kept
            """
        ).fetchall()[0]
    rows = []
    for email, n in suppressed:
        kind = SUPPRESSED_KINDS[n % len(SUPPRESSED_KINDS)]
        rows.append(
            {
                "email": email,
                "kind": kind,
                "group_id": UNSUBSCRIBE_GROUP if kind == "group_unsubscribe" else None,
                "reason": "bench",
            }
        )
    landed = land_suppressions(home / "landing", rows, origin="bench")
    campaigns_dir = home / "campaigns"
    campaigns_dir.mkdir(exist_ok=True)
    (campaigns_dir / f"{CAMPAIGN}.yml").write_text(
        yaml.safe_dump(campaign_definition(), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    segments = {segment.name for segment in load_segments(SEGMENTS_FILE)}
    [campaign] = load_campaigns(campaigns_dir, segments)  # checked as the Dagster asset checks it
    return {
        "customers": counts[0],
        "eligible": counts[1],
        "with_email": counts[2],
        "consented": counts[3],
        "holdout": counts[4],
        "suppressed": landed,
        "null_columns": missing,
        "seconds": time.perf_counter() - started,
        "campaign": campaign.name,
    }


# --- the stages, each in a child of its own -------------------------------------------------------------


def _settings_and_campaign() -> tuple[Any, Any, Any, Any]:
    """Settings from the environment (DRIPLINE_HOME, DRIPLINE_AS_OF, ...), the campaign, the ledger and the
    send context, as the Dagster campaign asset loads them (orchestration/defs/campaigns.py)."""
    from orchestration.lib.campaigns import configured_campaigns
    from orchestration.lib.outreach import ledger_for, send_context
    from orchestration.lib.settings import DriplineSettings

    settings = DriplineSettings()
    [campaign] = configured_campaigns(settings)
    return settings, campaign, ledger_for(settings), send_context(settings)


class _Profiler:
    """cProfile around the measured call when asked; the stats land in bench/out/campaigns-<label>.prof."""

    def __init__(self, label: str | None) -> None:
        self.label = label
        self.profile = None

    def __enter__(self) -> _Profiler:
        if self.label:
            import cProfile

            self.profile = cProfile.Profile()
            self.profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.profile is None:
            return
        import io
        import pstats

        self.profile.disable()
        path = OUT / f"campaigns-{self.label}.prof"
        self.profile.dump_stats(path)
        text = io.StringIO()
        pstats.Stats(self.profile, stream=text).sort_stats("cumulative").print_stats(45)
        path.with_suffix(".txt").write_text(text.getvalue())


def due_list_stage(profile: str | None) -> dict[str, Any]:
    """Child-process body: plan_campaign holding the ledger lock, as run_campaign runs it; nothing sent."""
    from orchestration.lib.outreach import CampaignRunReport, plan_campaign

    settings, campaign, ledger, context = _settings_and_campaign()
    report = CampaignRunReport(campaign=campaign.name, mode=context.mode)
    started = time.perf_counter()
    with _Profiler(profile), ledger.exclusive(60):
        report.recovered_unknown, _ = ledger.recover(context.now)
        decisions = plan_campaign(
            campaign, settings.warehouse_path, settings.landing_dir, ledger, context, report
        )
    seconds = time.perf_counter() - started
    from orchestration.lib.outreach import STATUS, STEP

    steps = Counter(decision[STEP] for decision in decisions)
    return {
        "seconds": seconds,
        "audience": report.audience,
        "enrolled": report.enrolled,
        "holdout_enrolled": report.holdout_enrolled,
        "active": report.active,
        "exited": dict(report.exited),
        "due": report.due,
        "queued": sum(decision[STATUS] == "queued" for decision in decisions),
        "holdout": report.statuses["holdout"],
        "skipped": dict(report.skipped),
        "due_by_step": dict(steps),
    }


def record_step_stage() -> dict[str, Any]:
    """Child-process body (setup of the next due-list run, not a target): plan again at the same instant and
    record the due step as the send path records it, every queued row sent (no request is made)."""
    import uuid

    from orchestration.lib.outreach import SEND_ID, CampaignRunReport, plan_campaign
    from orchestration.lib.send_ledger import Outcome

    settings, campaign, ledger, context = _settings_and_campaign()
    report = CampaignRunReport(campaign=campaign.name, mode=context.mode)
    timings = {}
    with ledger.exclusive(60):
        started = time.perf_counter()
        decisions = plan_campaign(
            campaign, settings.warehouse_path, settings.landing_dir, ledger, context, report
        )
        timings["plan_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        queued_ids = set(ledger.decide(decisions, context.now, claim=uuid.uuid4().hex))
        # In the due-list's order, as run_campaign sends them (the ledger's rows are in that order too).
        queued = [d[SEND_ID] for d in decisions if d[SEND_ID] in queued_ids]
        timings["decide_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, len(queued), BATCH_SIZE):
            batch = queued[start : start + BATCH_SIZE]
            ledger.mark_sending(batch, uuid.uuid4().hex, context.mode)
            ledger.record_outcomes([Outcome(s, "sent", None, "bench-message") for s in batch], context.now)
        timings["record_seconds"] = time.perf_counter() - started
    return {**timings, "decided": len(decisions), "sent": len(queued), "enrolled": report.enrolled}


class _TimedMailer:
    """The real SendGridMailer, with the time spent inside its send() summed (the Mailer protocol)."""

    def __init__(self, mailer: Any) -> None:
        self.mailer = mailer
        self.seconds = 0.0
        self.calls = 0
        self.first_call: float | None = None
        self.last_return: float | None = None

    def send(self, message: dict) -> Any:
        started = time.perf_counter()
        if self.first_call is None:
            self.first_call = started
        try:
            return self.mailer.send(message)
        finally:
            self.calls += 1
            self.last_return = time.perf_counter()
            self.seconds += self.last_return - started


def send_stage(profile: str | None) -> dict[str, Any]:
    """Child-process body: run_campaign, live (SendGridMailer to the fake) or a dry run to the outbox."""
    from connectors.apis.sendgrid import SendGridMailer
    from orchestration.lib.outreach import run_campaign

    settings, campaign, ledger, context = _settings_and_campaign()
    mailer = None
    if context.mode != "dry_run":
        mailer = _TimedMailer(
            SendGridMailer(
                settings.sendgrid_api_key.get_secret_value(),
                settings.sendgrid_base_url,
                timeout=settings.sendgrid_timeout_seconds,
                retry_timeouts=False,
            )
        )
    started = time.perf_counter()
    with _Profiler(profile):
        report = run_campaign(
            campaign, settings.warehouse_path, settings.landing_dir, ledger, context, mailer
        )
    ended = time.perf_counter()
    outbox = list((context.outbox_dir / campaign.name).rglob("*.json.gz"))
    result = {
        "seconds": ended - started,
        "mode": context.mode,
        "due": report.due,
        "statuses": dict(report.statuses),
        "skipped": dict(report.skipped),
        "enrolled": report.enrolled,
        "requests": report.requests,
        "retries": report.retries,
        "rate_limit_waits": report.rate_limit_waits,
        "outbox_files": len(outbox),
        "outbox_bytes": sum(path.stat().st_size for path in outbox),
    }
    if mailer is not None and mailer.first_call is not None:
        result["before_first_request_seconds"] = mailer.first_call - started
        result["mailer_seconds"] = mailer.seconds
        result["mailer_calls"] = mailer.calls
        result["after_last_answer_seconds"] = ended - mailer.last_return
    return result


# --- the parent -----------------------------------------------------------------------------------------


def _stage(stage: str, home: Path, env: dict[str, str], *extra: str) -> tuple[dict[str, Any], float, float]:
    command = [sys.executable, __file__, "--stage", stage, "--home", str(home), *extra]
    wall, peak, output = _run_child(command, env)
    return json.loads(output.strip().splitlines()[-1]), wall, peak


def _env(home: Path, now: datetime, **settings: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DRIPLINE_") or key == "DRIPLINE_DUCKDB_MEMORY_LIMIT"
    }
    return {
        **env,
        "DRIPLINE_HOME": str(home),
        "DRIPLINE_CAMPAIGNS_DIR": str(home / "campaigns"),
        "DRIPLINE_AS_OF": now.isoformat(),
        "DRIPLINE_LOCAL_TIMEZONE": "Asia/Seoul",
        "DRIPLINE_DEFAULT_REGION": "KR",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **{f"DRIPLINE_{key.upper()}": value for key, value in settings.items()},
    }


def _generate(home: Path, customers: int, recipients: int | None) -> dict[str, Any]:
    shutil.rmtree(home, ignore_errors=True)
    extra = ["--customers", str(customers), "--recipients", str(recipients or 0)]
    counts, wall, _ = _stage("generate", home, _env(home, DAY0), *extra)
    if counts["null_columns"]:
        print(f"  customers columns this bench does not fill (null): {counts['null_columns']}", flush=True)
    print(
        f"[{counts['customers']:>9,}] generated the warehouse in {counts['seconds']:.1f} s "
        f"(child {wall:.1f} s): {counts['with_email']:,} with an email, {counts['consented']:,} consented, "
        f"{counts['suppressed']:,} suppressed, {counts['holdout']:,} holdout, "
        f"{counts['eligible']:,} eligible",
        flush=True,
    )
    return counts


def bench_due_list(n_customers: int, keep: bool, profile: bool) -> list[dict[str, Any]]:
    home = OUT / f"campaigns-home-due-{n_customers}"
    counts = _generate(home, n_customers, None)
    rows = []
    runs = (("first", DAY0), ("next", NEXT_RUN))
    for label, now in runs:
        env = _env(home, now, send_mode="live", sendgrid_api_key=API_KEY)
        if label == "next":
            setup, wall, peak = _stage(
                "record-step", home, _env(home, DAY0, send_mode="live", sendgrid_api_key=API_KEY)
            )
            print(
                f"  setup: step 1 recorded for {setup['sent']:,} of {setup['decided']:,} decisions "
                f"(plan {setup['plan_seconds']:.1f} s, decide {setup['decide_seconds']:.1f} s, "
                f"sending+sent {setup['record_seconds']:.1f} s; child {wall:.1f} s, {peak:,.0f} MiB)",
                flush=True,
            )
            rows.append(
                {
                    "stage": "ledger/record step 1 (setup)",
                    "customers": counts["customers"],
                    "rows": setup["decided"],
                    "seconds": setup["decide_seconds"] + setup["record_seconds"],
                    "child_seconds": wall,
                    "peak_mib": peak,
                    "note": (
                        f"decide {setup['decided']:,} rows {setup['decide_seconds']:.1f} s, "
                        f"{setup['sent']:,} sending+sent {setup['record_seconds']:.1f} s "
                        f"(+ plan {setup['plan_seconds']:.1f} s)"
                    ),
                    "detail": setup,
                }
            )
        extra = ["--profile-label", f"due-list-{label}"] if profile else []
        result, wall, peak = _stage("due-list", home, env, *extra)
        by_step = ", ".join(f"{step} {n:,}" for step, n in sorted(result["due_by_step"].items()))
        skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(result["skipped"].items()))
        exited = ", ".join(f"{k} {v:,}" for k, v in sorted(result["exited"].items())) or "none"
        rows.append(
            {
                "stage": f"campaigns/due-list ({label})",
                "customers": counts["customers"],
                "rows": result["due"],
                "seconds": result["seconds"],
                "child_seconds": wall,
                "peak_mib": peak,
                "target_seconds": 10,
                "note": (
                    f"as of {now:%Y-%m-%d %H:%M}: {result['enrolled']:,} enrolled, exited {exited}, "
                    f"due {by_step}; "
                    f"{result['queued']:,} queued, {result['holdout']:,} holdout, skipped {skipped}"
                ),
                "detail": result,
            }
        )
        print(
            f"  due-list ({label}): {result['seconds']:.1f} s, peak {peak:,.0f} MiB; {rows[-1]['note']}",
            flush=True,
        )
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return rows


class FakeSendGridProcess:
    """tests/fakes/sendgrid.py standalone: its URL on stdout's first line, accepted recipients in FILE."""

    def __init__(self, record: Path) -> None:
        command = [sys.executable, "-m", "tests.fakes.sendgrid", "--port", "0", "--api-key", API_KEY]
        self.process = subprocess.Popen(
            [*command, "--record", str(record)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the fake SendGrid did not start (first line {self.url!r})")

    def stop(self) -> float:
        """SIGTERM, then its peak RSS in MiB."""
        self.process.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(self.process.pid, 0)
        return usage.ru_maxrss / 1024


def check_accepted_once(home: Path, record: Path, recipients: int) -> dict[str, Any]:
    """Every recipient the ledger calls sent was accepted exactly once at its address; nothing else was."""
    from orchestration.lib.send_ledger import SendLedger

    ledger = SendLedger(home / "outreach" / "ledger.sqlite3")
    statuses = dict(
        ledger.rows("sends", ("status", "count(*)"), "where campaign = ? group by status", [CAMPAIGN])
    )
    sent = dict(
        ledger.rows("sends", ("send_id", "email"), "where campaign = ? and status = 'sent'", [CAMPAIGN])
    )
    seen: Counter = Counter()
    wrong_address, sandbox = [], 0
    with record.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            send_id = row["custom_args"].get("send_id")
            seen[send_id] += 1
            sandbox += bool(row["sandbox"])
            if sent.get(send_id) != row["email"]:
                wrong_address.append(send_id)
    problems = []
    if len(sent) != recipients:
        problems.append(f"the ledger has {len(sent):,} sent rows, expected {recipients:,} ({statuses})")
    twice = [send_id for send_id, n in seen.items() if n > 1]
    if twice:
        problems.append(f"{len(twice):,} recipients accepted more than once, e.g. {twice[:3]}")
    never = set(sent) - set(seen)
    if never:
        problems.append(f"{len(never):,} recipients the ledger calls sent were never accepted")
    extra = set(seen) - set(sent)
    if extra:
        problems.append(f"{len(extra):,} accepted recipients are not sent in the ledger")
    if wrong_address:
        problems.append(f"{len(wrong_address):,} accepted at an address the ledger does not hold")
    if sandbox:
        problems.append(f"{sandbox:,} accepted in sandbox mode")
    if set(statuses) - {"sent", "holdout", "skipped"}:
        problems.append(f"unexpected ledger statuses {statuses}")
    if problems:
        raise RuntimeError(
            "campaigns/send: the fake's record disagrees with the ledger:\n  " + "\n  ".join(problems)
        )
    return {
        "accepted": sum(seen.values()),
        "ledger_statuses": statuses,
        "record_bytes": record.stat().st_size,
    }


def bench_send(recipients: int, keep: bool, profile: bool) -> list[dict[str, Any]]:
    home = OUT / f"campaigns-home-send-{recipients}"
    counts = _generate(home, 0, recipients)
    if counts["eligible"] != recipients:
        raise RuntimeError(f"generated {counts['eligible']:,} eligible customers, not {recipients:,}")
    dry_home = OUT / f"campaigns-home-dry-{recipients}"
    shutil.rmtree(dry_home, ignore_errors=True)
    shutil.copytree(home, dry_home)
    record = home / "sendgrid-record.jsonl"
    fake = FakeSendGridProcess(record)
    try:
        env = _env(
            home,
            DAY0,
            send_mode="live",
            sendgrid_api_key=API_KEY,
            sendgrid_base_url=fake.url,
            send_batch_size=str(BATCH_SIZE),
        )
        extra = ["--profile-label", "send"] if profile else []
        result, wall, peak = _stage("send", home, env, *extra)
    finally:
        fake_peak = fake.stop()
    checked = check_accepted_once(home, record, recipients)
    sent = result["statuses"].get("sent", 0)
    plan = result.get("before_first_request_seconds", 0.0)
    http = result.get("mailer_seconds", 0.0)
    rows = [
        {
            "stage": "campaigns/send (live)",
            "customers": counts["customers"],
            "rows": sent,
            "seconds": result["seconds"],
            "child_seconds": wall,
            "peak_mib": peak,
            "target_seconds": 60,
            "note": (
                f"{result['requests']} requests, {sent / result['seconds']:,.0f} recipients/s; "
                f"to first request {plan:.1f} s, in SendGridMailer.send {http:.1f} s, "
                f"rest (render, ledger) {result['seconds'] - plan - http:.1f} s; "
                f"all {checked['accepted']:,} accepted once (fake peak {fake_peak:,.0f} MiB)"
            ),
            "detail": {**result, **checked, "fake_peak_mib": fake_peak},
        }
    ]
    print(f"  send: {result['seconds']:.1f} s, peak {peak:,.0f} MiB; {rows[-1]['note']}", flush=True)
    extra = ["--profile-label", "dry-run"] if profile else []
    result, wall, peak = _stage("send", dry_home, _env(dry_home, DAY0, send_mode="dry_run"), *extra)
    dry = result["statuses"].get("dry_run", 0)
    if dry != recipients:
        raise RuntimeError(f"campaigns/dry-run: {dry:,} dry-run rows, expected {recipients:,}")
    rows.append(
        {
            "stage": "campaigns/dry-run",
            "customers": counts["customers"],
            "rows": dry,
            "seconds": result["seconds"],
            "child_seconds": wall,
            "peak_mib": peak,
            "note": (
                f"{result['outbox_files']} outbox files, {result['outbox_bytes'] / 2**20:,.1f} MiB gzipped, "
                f"{dry / result['seconds']:,.0f} recipients/s"
            ),
            "detail": result,
        }
    )
    print(f"  dry-run: {result['seconds']:.1f} s, peak {peak:,.0f} MiB; {rows[-1]['note']}", flush=True)
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(dry_home, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers of the due-list stage")
    parser.add_argument("--recipients", type=int, default=100_000, help="recipients of the send stages")
    parser.add_argument("--stages", default="due-list,send", help="due-list and/or send (send + dry-run)")
    parser.add_argument("--keep", action="store_true", help="keep the generated homes under bench/out/")
    parser.add_argument("--profile", action="store_true", help="cProfile each timed call (slower)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-label", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        profile = args.profile_label
        if args.stage == "generate":
            result = generate(args.home, args.customers, args.recipients or None)
        elif args.stage == "due-list":
            result = due_list_stage(profile)
        elif args.stage == "record-step":
            result = record_step_stage()
        elif args.stage == "send":
            result = send_stage(profile)
        else:
            parser.error(f"unknown stage {args.stage!r}")
        print(json.dumps(result, default=str))
        return 0
    stages = set(args.stages.split(","))
    if stages - {"due-list", "send"}:
        parser.error("--stages takes due-list and/or send")

    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    if "due-list" in stages:
        results += bench_due_list(args.customers, args.keep, args.profile)
    if "send" in stages:
        results += bench_send(args.recipients, args.keep, args.profile)

    print(
        f"\n{'customers':>10} {'stage':<30} {'rows':>10} {'seconds':>8} {'child s':>8} {'rows/s':>9} "
        f"{'peak MiB':>9} {'target':>7}  note"
    )
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0
        target = r.get("target_seconds")
        verdict = "" if target is None else ("<" if r["seconds"] < target else "MISSED ") + f"{target}s"
        print(
            f"{r['customers']:>10,} {r['stage']:<30} {r['rows']:>10,} {r['seconds']:>8.1f} "
            f"{r['child_seconds']:>8.1f} {rate:>9,.0f} {r['peak_mib']:>9,.0f} {verdict:>7}  {r['note']}"
        )
    summary = {
        "customers": args.customers,
        "recipients": args.recipients,
        "batch_size": BATCH_SIZE,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "results": results,
    }
    (OUT / "campaigns_results.json").write_text(json.dumps(summary, indent=2, default=str))
    print(
        f"\n{os.cpu_count()} cores, python {sys.version.split()[0]}; written to "
        f"{OUT / 'campaigns_results.json'} in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
