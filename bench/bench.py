"""`make bench`: wall time and peak memory of each pipeline stage on synthetic contacts.

For every size (default 10k, 100k, 1M records) it generates a seeded synthetic inbox (CSV in UTF-8 and
CP949 with Korean and English headers, JSONL form captures, ~25% of people in 2-3 sources, bad rows,
shared switchboards), then runs each stage in a child process of its own, so that the peak resident memory
of that stage alone can be read back from the kernel:

- ingest/spreadsheets and ingest/forms: read, validate, normalise and land (the code the Dagster assets run);
- dbt/identity+customers: `dbt build` without tests (seeds, staging, identity resolution, the customers,
  customer_source_records and quarantined_rows marts);
- dbt/tests: `dbt test` (data and unit tests) on what was built.

Then segmentation alone (issue #5), on synthetic profiles and purchases written straight into a warehouse
(default 1M customers, ~40% of them buyers): the segment models (`int_customers__purchase_stats` and every
model downstream of it: attributes, segments, customers, segment_summary, the membership snapshot and
segment_transitions), run twice, as of two dates, so the second run merges changes into the history.

Targets on the 2-core reference machine (issue #2): 1M spreadsheet rows landed in under 60 s, identity
resolution plus customers for 1M source records in under 30 s; segmentation of 1M customers in under 15 s.
Results go to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
DBT_DIR = REPO_ROOT / "dbt_project"


def _run_child_with_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a command; return wall seconds, its peak RSS in MiB, its CPU seconds and its output (on a shared
    machine the wall time says as much about the neighbours as about the command). Every bench script's
    child runner."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-4000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, output


def _run_child(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return wall seconds, its peak RSS in MiB and its output."""
    wall, peak, _, output = _run_child_with_cpu(command, env)
    return wall, peak, output


def ingest_stage(home: Path, source: str, workers: int) -> dict:
    """Child-process body: land one inbox folder exactly as the Dagster asset does."""
    from functools import partial

    from connectors.core.landing import LandingZone
    from connectors.files.forms import read_form_export
    from connectors.files.inbox import FORM_SUFFIXES, SPREADSHEET_SUFFIXES, ingest_inbox
    from connectors.files.spreadsheets import read_spreadsheet

    reader, entity, suffixes = {
        "spreadsheets": (read_spreadsheet, "contacts", SPREADSHEET_SUFFIXES),
        "forms": (read_form_export, "submissions", FORM_SUFFIXES),
    }[source]
    inbox = home / "inbox" / source
    read = partial(reader, inbox_dir=inbox, default_region="KR", local_tz="Asia/Seoul")
    report = ingest_inbox(
        inbox, LandingZone(home / "landing", source, entity), read, suffixes, workers=workers
    )
    if report.failed:
        raise RuntimeError(f"unreadable files: {[f.error for f in report.failed]}")
    return {"rows": report.rows_read, "rejected": report.rows_rejected, "files": len(report.landed)}


def bench_size(n_records: int, workers: int, keep: bool) -> list[dict]:
    home = OUT / f"home-{n_records}"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "DRIPLINE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # Every step runs in a child: a child forked from a big parent would report the parent's memory.
    wall, _, _ = _run_child(
        [sys.executable, __file__, "--generate", str(n_records), "--home", str(home)], env
    )
    print(f"[{n_records:>9,}] generated the synthetic inbox in {wall:.1f} s", flush=True)
    rows = []
    for source in ("spreadsheets", "forms"):
        command = [
            sys.executable,
            __file__,
            "--ingest-stage",
            source,
            "--home",
            str(home),
            "--workers",
            str(workers),
        ]
        wall, peak, output = _run_child(command, env)
        counts = json.loads(output.strip().splitlines()[-1])
        rows.append(
            {
                "stage": f"ingest/{source}",
                "records": counts["rows"],
                "seconds": wall,
                "peak_mib": peak,
                "note": f"{counts['files']} files, {counts['rejected']} quarantined",
            }
        )

    from orchestration.lib.landing import prepare_landing

    prepare_landing(home / "landing")  # as the dbt asset does: sources that never synced read as empty
    dbt = [str(Path(sys.executable).with_name("dbt")), "--no-use-colors"]
    dbt_args = [
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(home / "dbt-target"),
    ]
    wall, peak, _ = _run_child(
        [
            *dbt,
            "build",
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            *dbt_args,
        ],
        env,
    )
    timings = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
    slowest = sorted(timings, key=lambda r: r["execution_time"], reverse=True)[:3]
    model_seconds = sum(r["execution_time"] for r in timings)
    note = ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s" for r in slowest)
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        records, customers = connection.execute(
            "select sum(record_count), count(*) from customers"
        ).fetchall()[0]
    rows.append(
        {
            "stage": "dbt/identity+customers",
            "records": records,
            "seconds": wall,
            "peak_mib": peak,
            "note": f"{customers:,} customers; models {model_seconds:.1f}s: {note}",
        }
    )
    wall, peak, _ = _run_child([*dbt, "test", *dbt_args], env)
    rows.append({"stage": "dbt/tests", "records": records, "seconds": wall, "peak_mib": peak, "note": ""})
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return [{"size": n_records, **row} for row in rows]


SEGMENT_SELECTION = "int_customers__purchase_stats+"
SEGMENT_RUNS = ("2025-06-30T00:00:00+00:00", "2025-09-30T00:00:00+00:00")


def generate_segment_inputs(warehouse: Path, n_customers: int) -> None:
    """Child-process body: int_customers__profile and int_customers__purchases as identity leaves them."""
    import duckdb

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set timezone = 'UTC'")
        # segment_transitions names the survivor of a merge from customer_id_history: none here.
        connection.execute(
            "create or replace table customer_id_history "
            "(retired_customer_id varchar, customer_id varchar, retired_at timestamptz, reason varchar)"
        )
        connection.execute(
            """
            create or replace table int_customers__purchases as
            with buyers as (
                select i, cast(1 + hash(i) % 8 as bigint) as purchases
                from range(?) as t (i)
                where i % 10 < 4
            )
            select
                'cus_' || lpad(cast(i as varchar), 16, '0') as customer_id,
                'pipedrive' as source,
                'pipedrive:' || i || '-' || n as purchase_key,
                cast(10000 + hash(i, n) % 3000000 as double) * (1 + (i % 97 = 0)::int * 30) as purchase_value,
                case when i % 50 = 0 then 'USD' else 'KRW' end as currency,
                timestamptz '2023-01-01 00:00:00+00'
                + to_days(cast((hash(i) % 400 + n * (20 + i % 90)) % 1000 as integer)) as purchased_at,
                cast(i % 20 as varchar) as owner_id
            from buyers, unnest(range(purchases)) as p (n)
            """,
            [n_customers],
        )
        connection.execute(
            """
            create or replace table int_customers__profile as
            with purchases as (
                select
                    customer_id,
                    count(*) as purchase_count,
                    sum(purchase_value) as total_value,
                    any_value(currency) as currency,
                    min(purchased_at) as first_purchase_at,
                    max(purchased_at) as last_purchase_at
                from int_customers__purchases
                group by customer_id
            ),
            people as (
                select
                    i,
                    'cus_' || lpad(cast(i as varchar), 16, '0') as customer_id,
                    ['forms', 'spreadsheets', 'pipedrive', 'hubspot', 'typeform'][1 + i % 5] as source,
                    timestamptz '2023-01-01 00:00:00+00' + to_days(cast(hash(i) % 1000 as integer)) as seen_at
                from range(?) as t (i)
            )
            select
                people.customer_id,
                'Customer ' || i as full_name,
                case when i % 3 <> 0 then 'c' || i || '@example.kr' end as primary_email,
                case when i % 3 <> 0 then 'C' || i || '@example.kr' end as email_address,
                case when i % 2 = 0 then '+8210' || lpad(cast(i as varchar), 8, '0') end as primary_phone,
                case when i % 4 = 0 then 'Company ' || i % 50000 end as company,
                case when i % 4 = 0 then 'Retail' end as industry,
                case when i % 4 = 0 then cast(i % 700 as varchar) || '-' || cast(i % 700 + 50 as varchar) end
                    as company_size,
                case
                    when i % 3 = 0
                        then strftime(date '1960-01-01' + cast(hash(i) % 15000 as integer), '%Y-%m-%d')
                    when i % 7 = 0
                        then strftime(date '2000-01-01' + cast(hash(i) % 366 as integer), '--%m-%d')
                end as birthday,
                i % 5 < 2 as consent_email,
                case when i % 5 < 3 then seen_at end as consent_email_at,
                cast(1 + i % 2 as bigint) as source_count,
                cast(1 + i % 3 as bigint) as record_count,
                seen_at as first_seen_at,
                seen_at + to_days(cast(i % 60 as integer)) as last_seen_at,
                case when i % 2 = 0 then source else 'forms,' || source end as sources,
                source as acquisition_source,
                coalesce(purchases.purchase_count, 0) as purchase_count,
                coalesce(purchases.total_value, 0) as total_value,
                purchases.currency,
                purchases.first_purchase_at,
                purchases.last_purchase_at,
                cast(i % 20 as varchar) as owner
            from people
            left join purchases on people.customer_id = purchases.customer_id
            """,
            [n_customers],
        )


def bench_segmentation(n_customers: int, keep: bool) -> list[dict]:
    home = OUT / f"home-segments-{n_customers}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "DRIPLINE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    wall, _, _ = _run_child(
        [sys.executable, __file__, "--generate-segments", str(n_customers), "--home", str(home)], env
    )
    print(f"[{n_customers:>9,}] generated customers and purchases in {wall:.1f} s", flush=True)
    dbt = [str(Path(sys.executable).with_name("dbt")), "--no-use-colors"]
    rows = []
    for run, as_of in enumerate(SEGMENT_RUNS):
        command = [
            *dbt,
            "build",
            "--select",
            SEGMENT_SELECTION,
            "--exclude-resource-type",
            "test",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            json.dumps({"as_of": as_of}),
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(home / "dbt-target"),
        ]
        wall, peak, _ = _run_child(command, env)
        timings = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
        model_seconds = sum(r["execution_time"] for r in timings)
        slowest = sorted(timings, key=lambda r: r["execution_time"], reverse=True)[:3]
        note = ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s" for r in slowest)
        import duckdb

        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            [(events,)] = connection.execute("select count(*) from segment_transitions").fetchall()
        rows.append(
            {
                "size": n_customers,
                "stage": "dbt/segmentation" + (" (next run)" if run else ""),
                "records": n_customers,
                "seconds": wall,
                "peak_mib": peak,
                "note": f"as of {as_of[:10]}: models {model_seconds:.1f}s: {note}; {events:,} transitions",
            }
        )
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="comma-separated record counts ('' for none)"
    )
    parser.add_argument("--workers", type=int, default=2, help="ingestion worker processes")
    parser.add_argument(
        "--segment-customers", type=int, default=1_000_000, help="customers to segment (0: skip the stage)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated homes under bench/out/")
    parser.add_argument("--ingest-stage", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate-segments", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.ingest_stage:
        print(json.dumps(ingest_stage(args.home, args.ingest_stage, args.workers)))
        return 0
    if args.generate_segments:
        generate_segment_inputs(args.home / "warehouse.duckdb", args.generate_segments)
        return 0
    if args.generate:
        sys.path.insert(0, str(REPO_ROOT))
        from scripts.synthetic_contacts import generate_synthetic

        generate_synthetic(args.home / "inbox", args.generate)
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        results += bench_size(size, args.workers, args.keep)
    if args.segment_customers:
        results += bench_segmentation(args.segment_customers, args.keep)
    print(f"\n{'records':>10} {'stage':<24} {'rows':>10} {'wall s':>8} {'rows/s':>10} {'peak MiB':>9}  note")
    for r in results:
        rate = r["records"] / r["seconds"] if r["seconds"] else 0
        print(
            f"{r['size']:>10,} {r['stage']:<24} {r['records']:>10,} {r['seconds']:>8.1f} {rate:>10,.0f} "
            f"{r['peak_mib']:>9,.0f}  {r['note']}"
        )
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{os.cpu_count()} cores, python {sys.version.split()[0]}; written to {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
