"""`make bench`: wall time and peak memory of each pipeline stage on synthetic contacts.

For every size (default 10k, 100k, 1M records) it generates a seeded synthetic inbox (CSV in UTF-8 and
CP949 with Korean and English headers, JSONL form captures, ~25% of people in 2-3 sources, bad rows,
shared switchboards), then runs each stage in a child process of its own, so that the peak resident memory
of that stage alone can be read back from the kernel:

- ingest/spreadsheets and ingest/forms: read, validate, normalise and land (the code the Dagster assets run);
- dbt/identity+customers: `dbt build` without tests (seeds, staging, identity resolution, the customers,
  customer_source_records and quarantined_rows marts);
- dbt/tests: `dbt test` (data and unit tests) on what was built.

Targets on the 2-core reference machine (issue #2): 1M spreadsheet rows landed in under 60 s, identity
resolution plus customers for 1M source records in under 30 s. Results go to bench/out/results.json.
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


def _run_child(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return wall seconds, its peak RSS in MiB and its output."""
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
    return wall, usage.ru_maxrss / 1024, output


def ingest_stage(home: Path, source: str, workers: int) -> dict:
    """Child-process body: land one inbox folder exactly as the Dagster asset does."""
    from functools import partial

    from connectors.forms import read_form_export
    from connectors.inbox import FORM_SUFFIXES, SPREADSHEET_SUFFIXES, ingest_inbox
    from connectors.landing import LandingZone
    from connectors.spreadsheets import read_spreadsheet

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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated record counts")
    parser.add_argument("--workers", type=int, default=2, help="ingestion worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the generated homes under bench/out/")
    parser.add_argument("--ingest-stage", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.ingest_stage:
        print(json.dumps(ingest_stage(args.home, args.ingest_stage, args.workers)))
        return 0
    if args.generate:
        sys.path.insert(0, str(REPO_ROOT))
        from scripts.synthetic_contacts import generate_synthetic

        generate_synthetic(args.home / "inbox", args.generate)
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        results += bench_size(size, args.workers, args.keep)
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
