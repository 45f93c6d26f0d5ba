"""`make bench`: one large workbook through the inbox (issue #21), time and peak memory of each stage.

A 1,000,000-row x 30-column contact workbook (about 80 MB of XLSX) is generated once, streamed with openpyxl's
write-only mode, and cached in bench/out/ (generating it takes minutes; delete the file to regenerate). Then,
each in a child process of its own so that its peak resident memory can be read back from the kernel:

- ingest/workbook: the spreadsheet contact ingest the Dagster asset runs, on a home holding only the
  workbook;
- dbt/build: `dbt build` of the staging, identity and customer models on what landed, at the default DuckDB
  settings (the memory limit that follows the machine; DuckDB spills to warehouse.duckdb.tmp/ in the home).

Targets (issue #21): the workbook lands with a peak under 1.5 GB, and the warehouse builds at the defaults.
Results go to bench/out/results-inbox.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

from bench import _run_child  # bench/bench.py: every bench script's child runner

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
DBT_DIR = REPO_ROOT / "dbt_project"

HEADERS = [
    "고객번호",
    "이름",
    "이메일",
    "휴대폰",
    "회사명",
    "마케팅 수신 동의",
    "생년월일",
    "가입일",
    *(f"메모{n}" for n in range(1, 23)),
]
PEAK_TARGET_MIB = 1536


# Bump when the generated content changes, so a cached workbook of the old kind is not reused.
GENERATOR_VERSION = 2


def workbook_path(rows: int) -> Path:
    return OUT / f"inbox-{rows}x{len(HEADERS)}-v{GENERATOR_VERSION}.xlsx"


def generate_workbook(path: Path, rows: int, seed: int = 21) -> None:
    """Stream a seeded contact workbook to ``path`` (written to a temporary name, then renamed)."""
    from openpyxl import Workbook

    rng = random.Random(seed)
    # Names as varied as a real list (20 surnames x 37 x 37 given-name syllables, 27,380 names): v1 drew
    # from 80 names, so 12,500 people shared each name and the fuzzy identity tier, which compares the
    # records sharing a name, faced billions of pairs (a build no real list asks for).
    surnames = "김이박최정강조윤장임한오서신권황안송류홍"
    syllables = "민서지하도수예우준현은영재성진혜윤주경동상희정태연아유호승원채다소나보선미"
    companies = ["(주)한빛", "누리상사", "Acme Korea", "새솔테크", "", "바다물산"]
    started = date(2018, 1, 1)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("고객")
    sheet.append(HEADERS)
    for n in range(1, rows + 1):
        name = rng.choice(surnames) + rng.choice(syllables) + rng.choice(syllables)
        sheet.append(
            [
                f"C{n:08d}",
                name,
                f"user{n}@example{n % 97}.kr" if n % 10 else "",
                f"010-{rng.randrange(10000):04d}-{n % 10000:04d}",
                rng.choice(companies),
                rng.choice(("동의", "비동의", "Y", "")),
                date(1950 + n % 55, 1 + n % 12, 1 + n % 28),
                started + timedelta(days=n % 2500),
                *(rng.randrange(1000) if k % 3 == 0 else f"메모 {k}-{n % 1000}" for k in range(22)),
            ]
        )
    temp = path.with_name(f".tmp-{path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(temp)
    os.replace(temp, path)


def ingest_stage(home: Path) -> dict:
    """Child-process body: land the spreadsheet inbox exactly as the Dagster asset does."""
    from functools import partial

    from connectors.core.landing import LandingZone
    from connectors.files.inbox import SPREADSHEET_SUFFIXES, ingest_inbox
    from connectors.files.spreadsheets import read_spreadsheet

    inbox = home / "inbox" / "spreadsheets"
    read = partial(read_spreadsheet, inbox_dir=inbox, default_region="KR", local_tz="Asia/Seoul")
    report = ingest_inbox(
        inbox, LandingZone(home / "landing", "spreadsheets", "contacts"), read, SPREADSHEET_SUFFIXES
    )
    if report.failed:
        raise RuntimeError(f"unreadable files: {[f.error for f in report.failed]}")
    return {"rows": report.rows_read, "rejected": report.rows_rejected}


def bench(rows: int, keep: bool) -> list[dict]:
    source = workbook_path(rows)
    if not source.exists():
        print(f"generating {source} (once; it is cached) …", flush=True)
        generate_workbook(source, rows)
    home = OUT / f"home-inbox-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    inbox = home / "inbox" / "spreadsheets"
    inbox.mkdir(parents=True)
    os.link(source, inbox / "large.xlsx")  # bench/out/ holds both: no copy of 180 MB
    env = {**os.environ, "DRIPLINE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("DRIPLINE_DUCKDB_MEMORY_LIMIT", None)
    results = []
    wall, peak, output = _run_child([sys.executable, __file__, "--ingest-stage", str(home)], env)
    counts = json.loads(output.strip().splitlines()[-1])
    results.append(
        {
            "stage": "ingest/workbook",
            "rows": rows,
            "seconds": round(wall, 1),
            "peak_mib": round(peak),
            **counts,
        }
    )
    print(f"ingest/workbook: {results[0]['seconds']} s, peak {results[0]['peak_mib']} MiB", flush=True)
    sys.path.insert(0, str(REPO_ROOT))
    from orchestration.lib.landing import prepare_landing
    from orchestration.lib.settings import DriplineSettings

    prepare_landing(home / "landing")  # as the dbt asset does: sources that never synced read as empty
    settings = DriplineSettings(home=home)
    # What the dbt asset passes: the memory limit that follows the machine and a spill directory in the home.
    build_vars = {
        "dripline_home": str(home),
        "duckdb_memory_limit": settings.effective_duckdb_memory_limit,
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    wall, peak, _ = _run_child(
        [
            dbt,
            "--no-use-colors",
            "build",
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(home / "dbt-target"),
            "--vars",
            json.dumps(build_vars),
        ],
        env,
    )
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        customers = connection.execute("select count(*) from customers").fetchall()[0][0]
    results.append(
        {
            "stage": "dbt/build",
            "rows": rows,
            "seconds": round(wall, 1),
            "peak_mib": round(peak),
            "customers": customers,
            "memory_limit": build_vars["duckdb_memory_limit"],
        }
    )
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench home under bench/out/")
    parser.add_argument("--generate-only", action="store_true", help="write the cached workbook and stop")
    parser.add_argument("--ingest-stage", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_stage:
        sys.path.insert(0, str(REPO_ROOT))
        print(json.dumps(ingest_stage(args.ingest_stage)))
        return 0
    if args.generate_only:
        path = workbook_path(args.rows)
        if not path.exists():
            generate_workbook(path, args.rows)
        print(path)
        return 0
    os.chdir(REPO_ROOT)
    results = bench(args.rows, args.keep)
    print(f"\n{'stage':<18} {'rows':>9} {'seconds':>8} {'peak MiB':>9}")
    for row in results:
        print(f"{row['stage']:<18} {row['rows']:>9} {row['seconds']:>8} {row['peak_mib']:>9}")
    ingest_peak = results[0]["peak_mib"]
    verdict = "within" if ingest_peak < PEAK_TARGET_MIB else "OVER"
    print(f"ingest peak {ingest_peak} MiB: {verdict} the {PEAK_TARGET_MIB} MiB target")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results-inbox.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if ingest_peak < PEAK_TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
