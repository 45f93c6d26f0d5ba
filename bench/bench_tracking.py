"""`make bench` (fifth part): the tracking models (issue 18) on 10M SendGrid events.

The tracking models are the dbt models tagged `outreach`: the landed send ledger (stg_outreach__*,
campaign_sends, campaign_enrollments) and what SendGrid tells us about it (stg_sendgrid__events and
__replies, campaign_events, int_campaigns__conversion_events, int_campaigns__send_outcomes, campaign_metrics,
campaign_lift). This bench writes their landing zones straight to parquet with seeded DuckDB SQL, in the
schemas the send ledger and the receiver's pickup write (SEND_ROW_SCHEMA, EVENT_SCHEMA, REPLY_SCHEMA):

- landing/outreach/campaign_sends: 1M send decisions, 5 campaigns x 2 steps of 100k customers each (500k
  customers); per enrolment ~8 % holdout, then per send ~2 % skipped, ~1 % dry_run, ~1 % unknown (a run that
  died mid-request: no sg_message_id) and the rest sent, with one X-Message-Id per batch of 1000 sends.
- landing/sendgrid/events: `--events` rows (default 10M) in 20 parquet files, as the pickup lands them (a
  request file and a position per event, the raw JSON in `record`): processed, deferred, delivered, bounce
  (bounce or blocked), dropped, open (~30 % with sg_machine_open), click (~4 % on unsubscribe or preference
  links), unsubscribe, group_unsubscribe, group_resubscribe and spamreport, credited to the mailed sends.
  ~3 % of events are delivered twice (the same sg_event_id in a later request), ~0.2 % name a send id the
  ledger never had, ~8 % carry no custom args at all (only sg_message_id and the address).
- landing/sendgrid/replies: 100k replies in 4 files: ~10 % automatic (out-of-office), ~60 % with the reply
  token, the rest found by the sender's address or by nothing.

Every other zone is prepared empty (`prepare_landing`) and the other models are built once (`dbt run
--exclude tag:outreach`, seeds and snapshot included, tests not);
then 300k purchases by the bench's customers are added to int_customers__purchases,
so that attribution and lift have conversions to find. Timed, each in a child process (peak RSS from
`os.wait4`, as bench/bench.py does):

1. tracking/build: `dbt run --select tag:outreach`; per-model times from dbt's run_results.json, and the
   child's CPU time (user + system), which says more than the wall time when others share the cores.
   Target (issue 18): the metrics models for 10M events build in under 30 s.
2. tracking/tests: `dbt test --select tag:outreach` (data tests and the unit tests) on what was built.

The home is bench/out/tracking-home, removed unless `--keep`. Results go to bench/out/tracking_results.json.

    .venv/bin/python bench/bench_tracking.py [--events 10000000 | --quick] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from bench import _run_child_with_cpu  # bench/bench.py: every bench script's child runner

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
DBT_DIR = REPO_ROOT / "dbt_project"
TARGET_SECONDS = 30.0
SENDS = 1_000_000
REPLIES = 100_000
PURCHASES = 300_000
EVENT_FILES = 20
REPLY_FILES = 4
DAY0 = "2026-11-16 01:00:00+00"

# (event, share of events in per mille); the order fixes which hash range each event takes.
EVENT_MIX = [
    ("processed", 95),
    ("deferred", 10),
    ("delivered", 90),
    ("bounce", 4),
    ("dropped", 1),
    ("open", 550),
    ("click", 240),
    ("unsubscribe", 3),
    ("group_unsubscribe", 3),
    ("group_resubscribe", 1),
    ("spamreport", 3),
]
assert sum(share for _, share in EVENT_MIX) == 1000


def _event_case() -> str:
    """A SQL case over `r_event` (0-999) naming each event by its share of EVENT_MIX."""
    whens, upper = [], 0
    for event, share in EVENT_MIX:
        upper += share
        whens.append(f"when r_event < {upper} then '{event}'")
    return "case " + " ".join(whens) + " end"


def generate(home: Path, n_events: int) -> dict:
    """Child-process body: the landing zones of the tracking models, seeded, straight to parquet."""
    import duckdb

    from orchestration.lib.landing import prepare_landing

    landing = home / "landing"
    prepare_landing(landing)
    sends_dir = landing / "outreach" / "campaign_sends"
    events_dir = landing / "sendgrid" / "events"
    replies_dir = landing / "sendgrid" / "replies"
    connection = duckdb.connect()
    connection.execute("set timezone = 'UTC'")
    connection.execute(f"set temp_directory = '{home / 'duckdb-tmp'}'")
    connection.execute("set preserve_insertion_order = false")
    connection.execute(
        f"""
        create table sends as
        with base as (
            select
                i,
                i % 5 as c,
                (i // 5) % 2 as s,
                100000 * (i % 5) + i // 10 as j,
                hash(100000 * (i % 5) + i // 10, 'holdout') % 100 as r_holdout,
                hash(i, 'status') % 100 as r_status
            from range({SENDS}) as t (i)
        ),
        decided as (
            select
                *,
                'bench_campaign_' || c as campaign,
                case when s = 0 then 'welcome' else 'nudge' end as step,
                'cus_' || lpad(cast(j as varchar), 12, '0') as customer_id,
                'person' || j || '@' || (['gmail.com', 'naver.com', 'daum.net', 'example.co.kr'])[1 + j % 4]
                    as email,
                case
                    when r_holdout < 8 then 'holdout'
                    when r_status < 2 then 'skipped'
                    when r_status < 3 then 'dry_run'
                    when r_status < 4 then 'unknown'
                    else 'sent'
                end as status,
                timestamptz '{DAY0}' + to_days(cast(3 * s + c + i % 3 as integer))
                + to_seconds(cast(i % 7200 as bigint)) as decided_at
            from base
        )
        select
            md5(campaign || step || customer_id || '1')[:24] as send_id,
            campaign,
            'marketing' as purpose,
            step,
            s as step_index,
            customer_id,
            '1' as cycle,
            email,
            status,
            case status
                when 'holdout' then 'holdout'
                when 'skipped' then 'frequency_cap'
                when 'unknown' then 'timeout'
            end as reason,
            decided_at,
            case when status in ('sent', 'dry_run') then decided_at + to_seconds(30) end as sent_at,
            case when status = 'sent' then md5('batch' || s || '-' || (i // 1000))[:22] end as sg_message_id,
            case when status <> 'holdout' then '안녕하세요, ' || step end as subject,
            case when status <> 'holdout' then 'batch-' || s || '-' || (i // 1000) end as batch_id,
            case status when 'dry_run' then 'dry_run' when 'holdout' then null else 'live' end as mode,
            cast(case when status in ('sent', 'unknown') then 1 else 0 end as bigint) as attempts,
            status = 'unknown' as retryable,
            i + 1 as seq,
            i as i
        from decided
        """
    )
    connection.execute(
        f"""
        copy (
            select
                'bench-sends' as _load_id,
                timestamptz '{DAY0}' + to_days(7) as _loaded_at,
                * exclude (i)
            from sends
        ) to '{sends_dir / "bench-sends.parquet"}' (format parquet)
        """
    )
    # Mailed sends numbered densely, so that event k of a send is a plain join on that number.
    connection.execute(
        """
        create table mailed as
        select row_number() over (order by i) - 1 as m, *
        from sends
        where status in ('sent', 'unknown')
        """
    )
    n_mailed = connection.execute("select count(*) from mailed").fetchall()[0][0]
    connection.execute(
        f"""
        create macro event_rows(lo, hi) as table
        with base as (
            select
                e,
                hash(e, 'send') % {n_mailed} as m,
                hash(e, 'event') % 1000 as r_event,
                hash(e, 'detail') % 1000 as r_detail,
                hash(e, 'identity') % 1000 as r_identity
            from range(lo, hi) as t (e)
        ),
        shaped as (
            select
                base.*,
                {_event_case()} as event,
                mailed.send_id as ledger_send_id,
                mailed.campaign as ledger_campaign,
                mailed.step as ledger_step,
                mailed.customer_id as ledger_customer_id,
                mailed.email as ledger_email,
                mailed.sg_message_id as x_message_id,
                coalesce(mailed.sent_at, mailed.decided_at) as sent_at
            from base
            inner join mailed using (m)
        ),
        identified as (
            select
                *,
                -- ~0.2 % name a send the ledger never had; ~8 % of those with a message id carry no
                -- custom args; the rest carry send_id, campaign, step and customer_id.
                r_identity < 2 as is_unknown_send,
                r_identity >= 920 and x_message_id is not null as is_message_only,
                sent_at + to_seconds(cast(
                    case
                        when event in ('processed', 'delivered', 'bounce', 'dropped', 'deferred')
                        then r_detail
                        else 600 + hash(e, 'later') % 400000
                    end as bigint
                )) as event_at
            from shaped
        )
        select
            e,
            'req-' || lpad(cast(e // 1000 as varchar), 8, '0') || '.json' as _request,
            e % 1000 as _position,
            event_at + to_seconds(cast(2 + r_detail % 30 as bigint)) as received_at,
            md5(cast(e as varchar))[:22] as sg_event_id,
            event,
            ledger_email as email,
            event_at,
            case
                when x_message_id is not null
                then x_message_id || '.recvd-6f8c7b9d5-x2k7q-1-' || upper(md5(cast(m as varchar))[:8]) || '.0'
            end as sg_message_id,
            case
                when is_unknown_send then md5('unknown' || e)[:24]
                when not is_message_only then ledger_send_id
            end as send_id,
            case when not is_message_only then ledger_campaign end as campaign,
            case when not is_message_only then ledger_step end as step,
            case when not is_message_only then ledger_customer_id end as customer_id,
            case
                when event = 'bounce' then case when r_detail < 700 then 'bounce' else 'blocked' end
            end as type,
            case
                when event = 'bounce' then '550 5.1.1 The email account does not exist'
                when event = 'dropped' then 'Bounced Address'
                when event = 'deferred' then '421 4.7.0 Try again later'
            end as reason,
            case when event = 'bounce' then '5.1.1' end as status,
            case when event = 'delivered' then '250 2.0.0 OK' end as response,
            case
                when event <> 'click' then null
                when r_detail < 25 then 'https://u1234.ct.sendgrid.net/asm/unsubscribe/?user_id=1&data=' || e
                when r_detail < 40 then 'https://masitneun-catering.example/preferences?s=' || ledger_send_id
                else 'https://masitneun-catering.example/menu/' || (r_detail % 12) || '?utm_campaign='
                    || ledger_campaign
            end as url,
            case when event = 'open' then r_detail < 300 end as sg_machine_open,
            case
                when event in ('open', 'click')
                then 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15'
            end as useragent,
            case
                when event in ('unsubscribe', 'group_unsubscribe', 'group_resubscribe') then 21001::bigint
            end as asm_group_id,
            '["bench"]' as category,
            '{{"email":"' || ledger_email || '","event":"' || event || '","sg_event_id":"'
            || md5(cast(e as varchar))[:22] || '","timestamp":' || epoch(event_at)::bigint || '}}' as record
        from identified
        """
    )
    n_unique = round(n_events / 1.03)
    n_duplicates = n_events - n_unique
    # ~3 % of the events come again, later, in another request of the same size as the rest.
    step = max(1, n_unique // n_duplicates) if n_duplicates else 0
    per_file = -(-n_unique // EVENT_FILES)
    for k in range(EVENT_FILES):
        lo, hi = k * per_file, min(n_unique, (k + 1) * per_file)
        if lo >= hi:
            break
        batch = f"bench-events-{k:02d}"
        duplicates = (
            f"""
            union all
            select
                * replace (
                    'req-again-' || lpad(cast(e // 1000 as varchar), 8, '0') || '.json' as _request,
                    received_at + to_hours(1) as received_at
                )
            from event_rows({lo}, {hi})
            where e % {step} = 0 and e // {step} < {n_duplicates}
            """
            if step
            else ""
        )
        connection.execute(
            f"""
            copy (
                select
                    '{batch}' as _load_id,
                    timestamptz '{DAY0}' + to_days(7) as _loaded_at,
                    * exclude (e)
                from (
                    select * from event_rows({lo}, {hi})
                    {duplicates}
                )
            ) to '{events_dir / (batch + ".parquet")}' (format parquet)
            """
        )
    connection.execute(
        f"""
        create table replies as
        with base as (
            select
                r,
                hash(r, 'send') % {n_mailed} as m,
                hash(r, 'kind') % 100 as r_kind
            from range({REPLIES}) as t (r)
        )
        select
            r,
            'inbound-' || lpad(cast(r as varchar), 8, '0') || '.json' as _request,
            coalesce(mailed.sent_at, mailed.decided_at)
            + to_seconds(cast(600 + hash(r, 'later') % 300000 as bigint)) as received_at,
            '<' || md5('reply' || r)[:20] || '@mail.example>' as message_id,
            '<' || mailed.send_id || '@reply.masitneun-catering.example>' as in_reply_to,
            cast(null as varchar) as "references",
            case when r_kind < 90 then mailed.email else 'stranger' || r || '@example.org' end
                as from_address,
            mailed.email as from_raw,
            case
                when r_kind < 60 then 'replies+' || mailed.send_id || '@reply.masitneun-catering.example'
                else 'replies@reply.masitneun-catering.example'
            end as to_raw,
            case when r_kind % 10 = 0 then '부재중: ' else 'Re: ' end || mailed.subject as subject,
            '감사합니다. 다음 주에 다시 연락드리겠습니다.' as text,
            case when r_kind < 60 then mailed.send_id end as reply_token,
            case when r_kind % 10 = 0 then 'auto_submitted' end as auto_reply_reason,
            cast(r_kind % 3 = 0 as bigint) as attachment_count,
            '{{"from":"' || mailed.email || '"}}' as record
        from base
        inner join mailed using (m)
        """
    )
    for k in range(REPLY_FILES):
        batch = f"bench-replies-{k}"
        connection.execute(
            f"""
            copy (
                select
                    '{batch}' as _load_id,
                    timestamptz '{DAY0}' + to_days(7) as _loaded_at,
                    * exclude (r)
                from replies
                where r % {REPLY_FILES} = {k}
            ) to '{replies_dir / (batch + ".parquet")}' (format parquet)
            """
        )
    counts = connection.execute(
        f"""
        select
            (select count(*) from read_parquet('{sends_dir}/*.parquet')),
            (select count(*) from read_parquet('{events_dir}/*.parquet')),
            (select count(distinct sg_event_id) from read_parquet('{events_dir}/*.parquet')),
            (select count(*) from read_parquet('{replies_dir}/*.parquet')),
            {n_mailed}
        """
    ).fetchall()[0]
    connection.close()
    shutil.rmtree(home / "duckdb-tmp", ignore_errors=True)
    keys = ("sends", "events", "distinct_events", "replies", "mailed")
    return dict(zip(keys, counts, strict=True))


def add_purchases(home: Path) -> int:
    """Child-process body: purchases by the bench's customers, as identity would leave them."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
        connection.execute(
            f"""
            insert into int_customers__purchases by name
            select
                'cus_' || lpad(cast(hash(p, 'buyer') % 500000 as varchar), 12, '0') as customer_id,
                'shopify' as source,
                'shopify:' || p as purchase_key,
                cast(10000 + hash(p) % 300000 as double) as purchase_value,
                'KRW' as currency,
                timestamptz '{DAY0}' + to_seconds(cast(hash(p, 'when') % (14 * 86400) as bigint))
                    as purchased_at
            from range({PURCHASES}) as t (p)
            """
        )
        return connection.execute("select count(*) from int_customers__purchases").fetchall()[0][0]


def _model_times(target: Path) -> list[dict]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return [
        {
            "model": r["unique_id"].split(".")[-1],
            "seconds": round(r["execution_time"], 2),
            "status": r["status"],
        }
        for r in results
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1M events")
    parser.add_argument("--keep", action="store_true", help="keep the bench home")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--add-purchases", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    n_events = 1_000_000 if args.quick else args.events
    if args.generate:
        print(json.dumps(generate(args.home, n_events)))
        return 0
    if args.add_purchases:
        print(json.dumps(add_purchases(args.home)))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    home = OUT / "tracking-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "DRIPLINE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    load_before = os.getloadavg()[0]
    # Every step runs in a child: a child forked from a big parent would report the parent's memory.
    wall, _, _, output = _run_child_with_cpu(
        [sys.executable, __file__, "--generate", "--events", str(n_events), "--home", str(home)], env
    )
    generated = json.loads(output.strip().splitlines()[-1])
    print(
        f"generated {generated['sends']:,} sends, {generated['events']:,} events "
        f"({generated['distinct_events']:,} distinct), {generated['replies']:,} replies in {wall:.1f} s",
        flush=True,
    )
    dbt = [str(Path(sys.executable).with_name("dbt")), "--no-use-colors"]
    # DuckDB's memory limit as the pipeline passes it to dbt (DriplineSettings.effective_duckdb_memory_limit:
    # DRIPLINE_DUCKDB_MEMORY_LIMIT, else a share of the machine's memory).
    from orchestration.lib.settings import DriplineSettings

    memory_limit = DriplineSettings().effective_duckdb_memory_limit
    print(f"DuckDB memory limit {memory_limit} (as the pipeline sets it)", flush=True)
    dbt_args = [
        "--vars",
        json.dumps({"duckdb_memory_limit": memory_limit}),
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(home / "dbt-target"),
    ]
    exclude = ["--exclude", "tag:outreach", "resource_type:test", "resource_type:unit_test"]
    wall, _, _, _ = _run_child_with_cpu([*dbt, "build", *exclude, *dbt_args], env)
    print(f"built the other models on the empty home in {wall:.1f} s", flush=True)
    _, _, _, output = _run_child_with_cpu(
        [sys.executable, __file__, "--add-purchases", "--home", str(home)], env
    )
    purchases = json.loads(output.strip().splitlines()[-1])

    load_build = os.getloadavg()[0]
    select = ["--select", "tag:outreach"]
    build_wall, build_peak, build_cpu, _ = _run_child_with_cpu([*dbt, "run", *select, *dbt_args], env)
    models = _model_times(home / "dbt-target")
    test_wall, test_peak, test_cpu, _ = _run_child_with_cpu([*dbt, "test", *select, *dbt_args], env)
    tests = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
    load_after = os.getloadavg()[0]

    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        campaign_events, credited, metric_rows, sent, delivered, opens = connection.execute(
            """
            select
                (select count(*) from campaign_events),
                (select count(*) from campaign_events where send_id is not null),
                (select count(*) from campaign_metrics),
                (select sum(sent) from campaign_metrics),
                (select sum(delivered) from campaign_metrics),
                (select sum(unique_opens) from campaign_metrics)
            """
        ).fetchall()[0]
    met = build_wall < TARGET_SECONDS
    summary = {
        "command": " ".join(["bench/bench_tracking.py", *sys.argv[1:]]),
        "generated": generated,
        "purchases": purchases,
        "build": {
            "command": "dbt run --select tag:outreach",
            "seconds": round(build_wall, 2),
            "cpu_seconds": round(build_cpu, 2),
            "peak_mib": round(build_peak),
            "model_seconds": round(sum(m["seconds"] for m in models), 2),
            "models": models,
        },
        "tests": {
            "command": "dbt test --select tag:outreach",
            "seconds": round(test_wall, 2),
            "cpu_seconds": round(test_cpu, 2),
            "peak_mib": round(test_peak),
            "count": len(tests),
            "failed": [r["unique_id"] for r in tests if r["status"] not in ("pass", "warn")],
        },
        "campaign_events": campaign_events,
        "credited_events": credited,
        "campaign_metrics_rows": metric_rows,
        "sent": sent,
        "delivered": delivered,
        "unique_opens": opens,
        "target_seconds": TARGET_SECONDS,
        "target_met": met,
        "cores": os.cpu_count(),
        "load_average": {"before": load_before, "build": load_build, "after": load_after},
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
    }
    (OUT / "tracking_results.json").write_text(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    slowest = ", ".join(
        f"{m['model']} {m['seconds']:.1f}s" for m in sorted(models, key=lambda m: -m["seconds"])[:4]
    )
    print(
        f"tracking: {generated['events']:,} events ({generated['distinct_events']:,} distinct), "
        f"{generated['sends']:,} sends, {generated['replies']:,} replies, {purchases:,} purchases: "
        f"`dbt run --select tag:outreach` {build_wall:.1f} s (CPU {build_cpu:.1f} s), "
        f"peak {build_peak:,.0f} MiB "
        f"(models {summary['build']['model_seconds']:.1f} s: {slowest}); "
        f"`dbt test` {test_wall:.1f} s (CPU {test_cpu:.1f} s, {len(tests)} tests, "
        f"{len(summary['tests']['failed'])} failed), "
        f"peak {test_peak:,.0f} MiB. {campaign_events:,} campaign events ({credited:,} credited), "
        f"{metric_rows} metric rows. Target < {TARGET_SECONDS:.0f} s: {'met' if met else 'MISSED'}. "
        f"{os.cpu_count()} cores (load {load_before:.1f} before, {load_build:.1f} at the build, "
        f"{load_after:.1f} after); written to {OUT / 'tracking_results.json'}",
        flush=True,
    )
    return 0 if not summary["tests"]["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
