"""`make bench` (second part): a Pipedrive persons sync of 100k synthetic persons from the loopback fake.

The test fake (`tests/fakes/pipedrive.py`) serves seeded synthetic persons (Korean and English names, free
and company mailboxes, some with two addresses, 010 mobiles written several ways, a few bad phones, about a
third at one of the organizations) and organizations, in a process of its own. Each sync then runs in a
child process of its own, so the kernel reports that sync's own peak resident memory (`os.wait4`), exactly
as `bench/bench.py` does for its stages: organizations first (persons read organization names from what
landed), then persons. The children call `connectors.apis.pipedrive.sync_entity`, the function the
Dagster asset calls, with a client built as `PipedriveResource` builds it (page size 500, 5 retries), into a
fresh `DRIPLINE_HOME` under bench/out/ that is removed afterwards unless `--keep`.

Two scenarios, each into a fresh home:

- clean: no faults;
- 429 storms: the fake answers `429 Too Many Requests` with `Retry-After: 1` on every 20th persons page
  (`--storm-every`, `--storm-length` 429s in a row, `--retry-after` seconds), so 100k persons wait about
  10 s in all. The client honours the header; the waits are reported apart from the work.

Reported per sync: wall time of the sync call, records/s, pages, API calls (retries included), retries,
429 waits and their seconds, the fake's own time answering (measured inside the fake) and the child's peak
RSS. `rec/s net` is records over the sync time less rate-limit waits and the fake's time: what the client
side (HTTP, JSON, normalisation, parquet) sustains on its own.

The fake itself re-filters and re-sorts every record on every page: at 100k persons that is about 0.25 s
a page on the 2-core reference machine, 49 of the 56 s of a clean persons sync (`--no-fake-cache`). So the
bench serves it through a subclass that keeps each walk's sorted rows between pages; the first page of
every walk is still answered by the fake's own code, and at start-up cached pages are checked byte for
byte against the fake's own answers.
Results go to bench/out/sync_results.json.

    .venv/bin/python bench/bench_sync.py [--persons 100000 | --quick] [--keep]
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
from typing import Any

from bench import _run_child  # bench/bench.py: every bench script's child runner

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
TOKEN = "bench-pipedrive-token"
PAGE_SIZE = 500  # PipedriveResource.page_size (MAX_PAGE_SIZE)
MAX_RETRIES = 5  # PipedriveResource.max_retries
TIMEOUT = (5.0, 30.0)  # PipedriveResource connect/read timeouts


# --- the fake, in a process of its own ------------------------------------------------------------------


def _bench_fake_class() -> type:
    """The test fake, timed, with each walk's filtered and sorted rows kept between its pages."""
    from tests.fakes import pipedrive as fake_module
    from tests.fakes.server import Reply, Request

    class BenchFake(fake_module.FakePipedrive):
        def __init__(self, token: str) -> None:
            super().__init__(token)
            self.cache = True
            self.handler_seconds = 0.0
            self.statuses: dict[int, int] = {}
            self._walks: dict[tuple, list[dict[str, Any]]] = {}

        def add(self, entity: str, *records: dict[str, Any]) -> None:
            super().add(entity, *records)
            self._walks.clear()

        def __call__(self, request: Request) -> Reply:
            started = time.perf_counter()
            reply = super().__call__(request)
            reply.body = reply.payload()  # encode here, so the fake's time includes its JSON encoding
            self.handler_seconds += time.perf_counter() - started
            self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
            return reply

        def take_stats(self) -> dict[str, Any]:
            stats = {
                "requests": sum(self.statuses.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "fake_seconds": self.handler_seconds,
                "faults_left": len(self.faults),
            }
            self.handler_seconds = 0.0
            self.statuses = {}
            self.faults.clear()
            return stats

        def _list(self, entity: str, request: Request, *, empty: bool) -> Reply:
            query = request.query
            cursor = query.get("cursor")
            key = (entity, *(query.get(k) for k in ("sort_by", "sort_direction", "updated_since", "status")))
            if not self.cache or empty or self.stuck_cursor or cursor is None:
                # A walk's first page (and anything unusual) is the fake's own answer, validation included.
                reply = super()._list(entity, request, empty=empty)
                if self.cache and cursor is None and reply.status == 200:
                    self._walks[key] = self._rows(entity, query)
                return reply
            rows = self._walks.get(key)
            try:
                limit = int(query.get("limit", fake_module.DEFAULT_LIMIT))
                offset, serial = fake_module._decode_cursor(cursor)
            except ValueError:
                rows = None
            if rows is None or not 1 <= limit <= fake_module.MAX_LIMIT:
                return super()._list(entity, request, empty=empty)
            end = offset + limit
            next_cursor = fake_module._encode_cursor(end, serial + 1) if end < len(rows) else None
            body = {
                "success": True,
                "data": rows[offset:end],
                "additional_data": {"next_cursor": next_cursor},
            }
            return self._reply(200, body)

        def _rows(self, entity: str, query: dict[str, str]) -> list[dict[str, Any]]:
            """What `FakePipedrive._list` filters and sorts for a query, computed once per walk."""
            statuses = set(query["status"].split(",")) if query.get("status") else None
            sort_by = query.get("sort_by", "id")
            rows = [row for row in self.records[entity].values() if fake_module._visible(row, statuses)]
            if "updated_since" in query:
                since = fake_module._parse_time(query["updated_since"])
                rows = [row for row in rows if fake_module._parse_time(row["update_time"]) >= since]
            rows.sort(
                key=lambda row: (row[sort_by], row["id"]), reverse=query.get("sort_direction") == "desc"
            )
            return rows

    return BenchFake


def _check_cache(fake: Any, entity: str, n_records: int) -> int:
    """Compare cached pages with the fake's own at a few cursors; return how many were compared."""
    from tests.fakes import pipedrive as fake_module
    from tests.fakes.server import Request

    def answer(offset: int | None, cache: bool) -> bytes:
        query = {"limit": str(PAGE_SIZE), "sort_by": "update_time", "sort_direction": "asc"}
        if offset is not None:
            query["cursor"] = fake_module._encode_cursor(offset, 1)
        fake.cache = cache
        reply = fake._list(entity, Request("GET", f"/api/v2/{entity}", query, {}), empty=False)
        fake.cache = True
        return reply.payload()

    answer(None, cache=True)  # a first page: fills the walk's cache
    last = max(0, (n_records - 1) // PAGE_SIZE * PAGE_SIZE)
    offsets = sorted({PAGE_SIZE, n_records // 2, last} - {0})
    for offset in offsets:
        if answer(offset, cache=True) != answer(offset, cache=False):
            raise RuntimeError(f"the bench's cached {entity} page at offset {offset} differs from the fake's")
    return len(offsets)


def synthetic_pipedrive(n_persons: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded organizations and persons in Pipedrive's v2 shape (the fake's own record builders)."""
    import random
    from datetime import UTC, datetime, timedelta

    sys.path.insert(0, str(REPO_ROOT))
    from scripts import synthetic_contacts as sc
    from tests.fakes.pipedrive import organization, person

    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    span = int((datetime(2025, 6, 1, tzinfo=UTC) - start).total_seconds())
    surnames = list(zip(sc.SURNAMES, sc.SURNAMES_ROMAN, strict=True))
    given = list(zip(sc.GIVEN, sc.GIVEN_ROMAN[: len(sc.GIVEN)], strict=True))
    english_given = ["James", "Emily", "Daniel", "Grace", "Michael", "Sarah", "David", "Olivia", "Chris"]
    english_surnames = ["Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Thomas"]
    industries = ["케이터링", "푸드", "베이커리", "소프트", "이벤트", "컨벤션", "팜", "에프앤비", "커피"]

    n_orgs = max(10, n_persons // 50)
    orgs, org_domains = [], {}
    for org_id in range(1, n_orgs + 1):
        if org_id <= len(sc.COMPANIES):
            name, domain = sc.COMPANIES[org_id - 1], sc.COMPANY_DOMAINS[org_id - 1]
        else:
            korean, roman = rng.choice(surnames)
            form = rng.choice(["(주){}", "{} 주식회사", "주식회사 {}", "㈜{}", "{}(주)"])
            name = form.format(f"{korean}{rng.choice(industries)}{org_id}")
            domain = f"{roman.lower()}{org_id}.co.kr"
        updated = start + timedelta(seconds=rng.randrange(span))
        orgs.append(organization(org_id, updated=updated, name=name))
        org_domains[org_id] = domain

    persons = []
    for person_id in range(1, n_persons + 1):
        (korean_surname, roman_surname), (korean_given, roman_given) = rng.choice(surnames), rng.choice(given)
        style = rng.random()
        if style < 0.6:
            name = f"{korean_surname}{korean_given}"
        elif style < 0.9:
            name = f"{roman_given} {roman_surname}"
        else:
            roman_given, roman_surname = rng.choice(english_given), rng.choice(english_surnames)
            name = f"{roman_given} {roman_surname}"
        org_id = rng.randint(1, n_orgs) if rng.random() < 0.35 else None
        local = f"{roman_given.lower()}.{roman_surname.lower()}{rng.randrange(100)}"
        emails = []
        if org_id is not None:
            emails.append({"value": f"{local}@{org_domains[org_id]}", "primary": True, "label": "work"})
        if org_id is None or rng.random() < 0.3:
            free = rng.choices(sc.FREE_MAIL, weights=list(sc.FREE_MAIL_WEIGHTS))[0]
            emails.append({"value": f"{local}@{free}", "primary": not emails, "label": "home"})
        if rng.random() < 0.05:
            emails = []
        middle, last = f"{rng.randrange(2000, 10000):04d}", f"{rng.randrange(10000):04d}"
        phone = rng.choice(sc._phone_variants(middle, last))
        if rng.random() < 0.02:
            phone = f"010-{middle[:3]}"  # too short: quarantined by the normaliser, the email still counts
        phones = [] if rng.random() < 0.08 else [{"value": phone, "primary": True, "label": "mobile"}]
        record = person(
            person_id, updated=start + timedelta(seconds=rng.randrange(span)), name=name, org_id=org_id
        )
        record["emails"], record["phones"] = emails, phones
        record["custom_fields"] = {
            "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0": rng.choice(["newsletter", "event", "referral", None])
        }
        persons.append(record)
    return orgs, persons


def serve_fake(n_persons: int, seed: int, cache: bool) -> int:
    """Child-process body: serve the fake; one JSON command per stdin line, one JSON answer per line."""
    sys.path.insert(0, str(REPO_ROOT))
    started = time.perf_counter()
    orgs, persons = synthetic_pipedrive(n_persons, seed)
    generated = time.perf_counter() - started
    fake = _bench_fake_class()(TOKEN)
    fake.add("organizations", *orgs)
    fake.add("persons", *persons)
    del orgs, persons
    checked = _check_cache(fake, "persons", n_persons) if cache else 0
    fake.cache = cache
    fake.take_stats()
    with fake.server.running():
        hello = {
            "url": fake.url,
            "persons": len(fake.records["persons"]),
            "organizations": len(fake.records["organizations"]),
            "generate_seconds": generated,
            "pages_checked": checked,
        }
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "stats":
                print(json.dumps(fake.take_stats()), flush=True)
            elif command["cmd"] == "storms":
                # Page `every` gets `length` 429s, then its retry and every-1 more pages pass, and so on.
                for storm in range(command["storms"]):
                    skip = command["every"] - 1 if storm == 0 else command["every"]
                    fake.inject(
                        "rate_limit",
                        skip=skip,
                        times=command["length"],
                        retry_after=command["retry_after"],
                    )
                print(json.dumps({"queued": len(fake.faults)}), flush=True)
            elif command["cmd"] == "quit":
                break
    return 0


class FakeProcess:
    def __init__(self, n_persons: int, seed: int, cache: bool = True) -> None:
        command = [sys.executable, __file__, "--serve-fake", "--persons", str(n_persons), "--seed", str(seed)]
        self.process = subprocess.Popen(
            [*command, *([] if cache else ["--no-fake-cache"])],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake Pipedrive process exited ({self.process.wait()})")
        return json.loads(line)

    def ask(self, cmd: str, **options: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **options}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self) -> float:
        """Stop the fake; return its peak RSS in MiB."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        _, _, usage = os.wait4(self.process.pid, 0)
        return usage.ru_maxrss / 1024


# --- the syncs, each in a child of its own --------------------------------------------------------------


def sync_stage(entity: str) -> dict[str, Any]:
    """Child-process body: one sync of one entity, as the Dagster asset runs it (`_run` in
    orchestration/defs/apis/pipedrive.py), without Dagster itself."""
    from datetime import timedelta

    from connectors.apis.pipedrive import PipedriveClient, landing_zone, sync_entity
    from orchestration.lib.settings import DriplineSettings

    settings = DriplineSettings()
    zone = landing_zone(settings.landing_dir, entity)
    organizations = landing_zone(settings.landing_dir, "organizations") if entity == "persons" else None
    client = PipedriveClient(
        settings.pipedrive_base_url,
        settings.pipedrive_api_token,
        page_size=PAGE_SIZE,
        max_retries=MAX_RETRIES,
        timeout=TIMEOUT,
    )
    started = time.perf_counter()
    with client:
        report = sync_entity(
            client,
            zone,
            overlap=timedelta(minutes=settings.sync_overlap_minutes),
            region=settings.default_region,
            local_tz=settings.local_timezone,
            organizations=organizations,
        )
    seconds = time.perf_counter() - started
    landed = sum(f.stat().st_size for f in (settings.landing_dir / "pipedrive" / entity).rglob("*.parquet"))
    metadata = report.as_metadata()
    metadata["retry_wait_seconds"] = report.stats.retry_wait_seconds
    metadata["rate_limit_wait_seconds"] = report.stats.rate_limit_wait_seconds
    return {"seconds": seconds, "batches": len(report.batches), "landed_bytes": landed, **metadata}


def run_scenario(fake: FakeProcess, scenario: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    home = OUT / f"sync-home-{scenario}"
    shutil.rmtree(home, ignore_errors=True)
    env = {
        **os.environ,
        "DRIPLINE_HOME": str(home),
        "DRIPLINE_PIPEDRIVE_API_TOKEN": TOKEN,
        "DRIPLINE_PIPEDRIVE_BASE_URL": fake.hello["url"],
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    rows = []
    for entity in ("organizations", "persons"):
        expected = fake.hello[entity]
        storms = 0
        if scenario == "429" and entity == "persons":
            pages = -(-expected // PAGE_SIZE)
            storms = pages // args.storm_every
            fake.ask(
                "storms",
                storms=storms,
                every=args.storm_every,
                length=args.storm_length,
                retry_after=args.retry_after,
            )
        command = [sys.executable, __file__, "--sync-stage", entity]
        wall, peak, output = _run_child(command, env)
        result = json.loads(output.strip().splitlines()[-1])
        served = fake.ask("stats")
        if result["records_fetched"] != expected or result["records_new"] != expected:
            raise RuntimeError(f"{scenario} {entity}: fetched {result['records_fetched']} of {expected}")
        if result["rate_limit_waits"] != storms * args.storm_length or served["faults_left"]:
            raise RuntimeError(f"{scenario} {entity}: {result['rate_limit_waits']} waits, fake {served}")
        rows.append(
            {
                "scenario": scenario,
                "entity": entity,
                "records": result["records_fetched"],
                "sync_seconds": result["seconds"],
                "child_wall_seconds": wall,
                "peak_mib": peak,
                "fake_seconds": served["fake_seconds"],
                "fake_statuses": served["statuses"],
                **{
                    key: result[key]
                    for key in (
                        "pages",
                        "api_calls",
                        "retries",
                        "rate_limit_waits",
                        "rate_limit_wait_seconds",
                        "retry_wait_seconds",
                        "rows_landed",
                        "batches",
                        "landed_bytes",
                    )
                },
            }
        )
        print(
            f"[{scenario:>5}] {entity}: {result['records_fetched']:,} in {result['seconds']:.1f} s "
            f"({result['rate_limit_wait_seconds']:.1f} s rate-limited), peak {peak:,.0f} MiB",
            flush=True,
        )
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000, help="persons the fake serves")
    parser.add_argument("--quick", action="store_true", help="10k persons, for a fast check")
    parser.add_argument("--storm-every", type=int, default=20, help="429 storm on every Nth persons page")
    parser.add_argument("--storm-length", type=int, default=1, help="429s in a row per storm (max 5)")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of each 429")
    parser.add_argument("--scenarios", default="clean,429", help="which scenarios, in order")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--no-fake-cache",
        action="store_true",
        help="serve every page with the fake's own re-filter and re-sort (shows what the cache saves)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the sync homes under bench/out/")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sync-stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.persons = 10_000

    if args.serve_fake:
        return serve_fake(args.persons, args.seed, cache=not args.no_fake_cache)
    if args.sync_stage:
        print(json.dumps(sync_stage(args.sync_stage)))
        return 0
    if set(args.scenarios.split(",")) - {"clean", "429"}:
        parser.error("--scenarios takes clean and/or 429")
    if not 1 <= args.storm_length <= MAX_RETRIES:
        parser.error(f"--storm-length must be 1 to {MAX_RETRIES} (the client's retries)")

    OUT.mkdir(parents=True, exist_ok=True)
    # The fake holds every record in memory: it lives in its own process, started before anything else, so
    # neither its memory nor its CPU is counted in a sync child's.
    started = time.perf_counter()
    fake = FakeProcess(args.persons, args.seed, cache=not args.no_fake_cache)
    hello = fake.hello
    print(
        f"fake Pipedrive at {hello['url']}: {hello['persons']:,} persons, {hello['organizations']:,} "
        f"organizations, ready in {time.perf_counter() - started:.1f} s "
        f"(cached pages checked against the fake's own: {hello['pages_checked']})",
        flush=True,
    )
    try:
        results = [
            row for scenario in args.scenarios.split(",") for row in run_scenario(fake, scenario, args)
        ]
    finally:
        fake_peak = fake.stop()

    print(
        f"\n{'scenario':<8} {'entity':<14} {'records':>8} {'sync s':>7} {'rec/s':>7} {'pages':>6} "
        f"{'calls':>6} {'retries':>7} {'429 wait s':>10} {'fake s':>7} {'rec/s net':>9} {'peak MiB':>8}"
    )
    for r in results:
        net = r["sync_seconds"] - r["rate_limit_wait_seconds"] - r["fake_seconds"]
        r["records_per_second"] = r["records"] / r["sync_seconds"]
        r["records_per_second_net"] = r["records"] / net if net > 0 else None
        print(
            f"{r['scenario']:<8} {r['entity']:<14} {r['records']:>8,} {r['sync_seconds']:>7.1f} "
            f"{r['records_per_second']:>7,.0f} {r['pages']:>6} {r['api_calls']:>6} {r['retries']:>7} "
            f"{r['rate_limit_wait_seconds']:>10.1f} {r['fake_seconds']:>7.1f} "
            f"{r['records_per_second_net'] or 0:>9,.0f} {r['peak_mib']:>8,.0f}"
        )
    summary = {
        "persons": args.persons,
        "page_size": PAGE_SIZE,
        "storm_every": args.storm_every,
        "storm_length": args.storm_length,
        "retry_after": args.retry_after,
        "fake_cache": not args.no_fake_cache,
        "fake_peak_mib": fake_peak,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "results": results,
    }
    (OUT / "sync_results.json").write_text(json.dumps(summary, indent=2))
    print(
        f"\n429 scenario: {args.storm_length} x 429 (Retry-After {args.retry_after}s) on every "
        f"{args.storm_every}th persons page. Fake process peak {fake_peak:,.0f} MiB. "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}; "
        f"written to {OUT / 'sync_results.json'} in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
