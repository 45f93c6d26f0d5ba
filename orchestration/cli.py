"""`dripline run`: the whole pipeline once, on the configured home, with a short human summary.

`make run` calls this. Runs are recorded in the Dagster instance of the home, so `make ui` shows them.

Exit codes of `dripline run`: 0 everything ran and every inbox file was read; 1 a step failed (the summary
says which); 2 a segment or campaign definition is invalid (nothing ran); 3 the pipeline ran and the warehouse
is built, but at least one inbox file could not be read or was refused (quarantined, named in the summary and
in the quarantined_files table): a script notices, and the rest of the data is current.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from orchestration.lib.campaigns import CampaignDefinitionError, configured_campaigns
from orchestration.lib.paths import SAMPLE_INBOX_DIR, SAMPLE_MANIFEST, SAMPLE_SENDGRID_DIR
from orchestration.lib.segments import SegmentDefinitionError, load_segments
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.warehouse import customer_counts, segment_summary

INBOX_KINDS = ("spreadsheets", "forms")
EXIT_FAILED, EXIT_INVALID_DEFINITIONS, EXIT_FILES_QUARANTINED = 1, 2, 3

# Runs, events and schedules live in SQLite files in the home; nothing is sent anywhere. DuckDB has one
# writer at a time, so queued runs (schedules, the launchpad) run one after another: an hourly sync never
# meets a nightly rebuild that is still running on the warehouse lock.
INSTANCE_CONFIG = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
"""


def prepare_home(settings: DriplineSettings) -> list[str]:
    """Create the home's folders; seed the demo home, and only it, with the shipped sample data."""
    notes = []
    if not settings.inbox_dir.exists() and settings.is_demo_home:
        shutil.copytree(SAMPLE_INBOX_DIR, settings.inbox_dir)
        notes.append(f"Seeded the demo home {settings.home} with the sample data in {SAMPLE_INBOX_DIR}.")
    for kind in INBOX_KINDS:
        (settings.inbox_dir / kind).mkdir(parents=True, exist_ok=True)
    if not any(p.is_file() for p in settings.inbox_dir.rglob("*")):
        notes.append(
            f"The inbox {settings.inbox_dir} is empty: put .csv/.xlsx files in spreadsheets/ and "
            ".csv/.json/.jsonl form exports in forms/."
        )
    return notes


def replay_sample_tracking(settings: DriplineSettings) -> str | None:
    """On the demo home (or as DRIPLINE_SAMPLE_EVENTS says), and never where mail is really sent: store the
    shipped SAMPLE of SendGrid events and replies in the receiver's spool, through the receiver's own storage
    (so they are collected, deduplicated and credited like real ones). The spool name is the request's
    receive time and a hash of its bytes: replaying again stores nothing new."""
    replay = settings.is_demo_home if settings.sample_events is None else settings.sample_events
    if not replay or settings.effective_send_mode != "dry_run" or not SAMPLE_SENDGRID_DIR.is_dir():
        return None
    from datetime import datetime

    from connectors.webhooks.spool import store_event_request, store_inbound_request

    stored = 0
    for path in sorted((SAMPLE_SENDGRID_DIR / "events").glob("*.json")):
        received_at = datetime.strptime(path.name.split("-")[0].removesuffix(".json"), "%Y%m%dT%H%M%S.%fZ")
        store_event_request(settings.landing_dir, path.read_bytes(), received_at.replace(tzinfo=UTC))
        stored += 1
    for path in sorted((SAMPLE_SENDGRID_DIR / "inbound").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        store_inbound_request(
            settings.landing_dir,
            document["fields"],
            document.get("attachments", []),
            datetime.fromisoformat(document["received_at"]),
        )
        stored += 1
    return (
        f"Replayed the shipped SAMPLE of SendGrid events and replies ({stored} requests, "
        f"{SAMPLE_SENDGRID_DIR}): "
        "the demo's campaign metrics are made up, not measured."
    )


def demo_as_of(settings: DriplineSettings) -> str | None:
    """The demo home runs as of the sample data's own date (sample_data/manifest.json), so its segments and
    campaigns show the same numbers whatever today is; DRIPLINE_AS_OF, when set, wins."""
    if not settings.is_demo_home or settings.as_of is not None or not SAMPLE_MANIFEST.is_file():
        return None
    return json.loads(SAMPLE_MANIFEST.read_text(encoding="utf-8")).get("as_of")


def use_home(settings: DriplineSettings) -> None:
    """Point dbt and the Dagster instance at the home (they read the environment, not our settings).

    dagster-dbt runs the `dbt` it finds on PATH: put this interpreter's scripts first, so that
    `.venv/bin/dripline` works without an activated virtualenv.
    """
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    os.environ["DRIPLINE_HOME"] = str(settings.home)
    as_of = demo_as_of(settings)
    if as_of:
        os.environ["DRIPLINE_AS_OF"] = as_of
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():
        instance_config.write_text(INSTANCE_CONFIG)


def _mask(name: str | None) -> str:
    """김민수 → 김*수, Minsu Kim → M****u: enough to recognise a merge, not to read a name off a screen."""
    if not name:
        return "(no name)"
    compact = name.replace(" ", "")
    if len(compact) <= 2:
        return compact[0] + "*"
    return compact[0] + "*" * (len(compact) - 2) + compact[-1]


def warehouse_summary(warehouse: Path, top: int = 5) -> dict[str, Any]:
    import duckdb

    summary: dict[str, Any] = customer_counts(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        summary["quarantine_reasons"] = [
            reason
            for (reason,) in connection.execute(
                "select reason from quarantined_rows order by source, source_file, source_sheet, source_row"
            ).fetchall()
        ]
        summary["top_merges"] = connection.execute(
            """
            select c.customer_id, c.full_name, c.record_count, c.sources,
                   string_agg(distinct r.match_rule, ', ' order by r.match_rule)
            from customers as c
            inner join customer_source_records as r on r.customer_id = c.customer_id
            where c.record_count > 1
            group by all
            order by c.record_count desc, c.customer_id
            limit ?
            """,
            [top],
        ).fetchall()
        summary["campaign_results"] = (
            connection.execute(
                """
                select campaign, bool_and(rehearsal), sum(sent), sum(delivered),
                    sum(unique_opens) / nullif(sum(delivered), 0),
                    sum(unique_clicks) / nullif(sum(delivered), 0),
                    sum(replies) / nullif(sum(delivered), 0), sum(conversions) / nullif(sum(delivered), 0),
                    sum(unsubscribes) / nullif(sum(delivered), 0)
                from campaign_metrics group by campaign order by campaign
                """
            ).fetchall()
            if connection.execute(
                "select count(*) from information_schema.tables where table_name = 'campaign_metrics'"
            ).fetchall()[0][0]
            else []
        )
    summary["segments"] = segment_summary(warehouse)
    return summary


def _redact(reason: str) -> str:
    """A reason names file, row and field; the values it quotes stay in the warehouse, not the terminal."""
    return re.sub(r"'[^']*'", "'…'", reason)


def format_summary(ingest: dict[str, dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = ["", "Dripline run summary", "--------------------"]
    campaigns = {key: meta for key, meta in ingest.items() if key.startswith("campaigns/")}
    for key, meta in sorted(ingest.items()):
        if key in campaigns:
            continue
        if meta.get("skipped"):
            lines.append(f"{key:<22} skipped: {meta.get('skipped_reason', 'not configured')}")
        elif "summary" in meta:
            lines.append(f"{key:<22} {meta['summary']}")
        elif "files_landed" in meta:
            lines.append(
                f"{key:<22} {meta.get('files_landed', 0)} new file(s), {meta.get('files_already_landed', 0)} "
                f"already landed; {meta.get('rows_read', 0)} rows read, "
                f"{meta.get('rows_quarantined', 0)} quarantined"
            )
        else:
            fetched, pages = meta.get("records_fetched", 0), meta.get("pages", 0)
            lines.append(f"{key:<22} {fetched} records fetched in {pages} page(s)")
    customers, records = summary["customers"], summary["records"]
    share = summary["consented"] / customers if customers else 0.0
    lines += [
        f"{'source records':<22} {records} accepted, {summary['quarantined']} quarantined",
        f"{'customers':<22} {customers} ({records - customers} records merged into "
        f"{summary['merged_customers']} multi-record customers); {share:.0%} with a consented email",
    ]
    if summary["top_merges"]:
        lines.append("top merges:")
        for customer_id, name, count, sources, rules in summary["top_merges"]:
            lines.append(
                f"  {customer_id}  {_mask(name):<12} {count} records from {sources} (joined by {rules})"
            )
    if summary.get("segments"):
        lines.append("segments (customers, share, contactable):")
        for row in summary["segments"]:
            contactable = "-" if row["contactable_share"] is None else f"{row['contactable_share']:.0%}"
            size, share = row["customer_count"], row["customer_share"]
            lines.append(f"  {row['segment']:<20} {size:>7} {share:>5.0%} {contactable:>5}")
    if campaigns:
        lines.append("campaigns (due: decided this run; nothing is sent without DRIPLINE_SENDGRID_API_KEY):")
        for key, meta in sorted(campaigns.items()):
            lines.append(f"  {key.removeprefix('campaigns/'):<26} {meta.get('summary', '')}")
    if summary.get("campaign_results"):
        lines.append(
            "campaign results (sent, delivered; then of delivered: opened, clicked, replied, converted, "
            "unsubscribed):"
        )
        for name, rehearsal, sent, delivered, *rates in summary["campaign_results"]:
            shares = "  ".join("   -" if rate is None else f"{rate:>4.0%}" for rate in rates)
            marker = "  (dry run: sample events)" if rehearsal else ""
            lines.append(f"  {name:<26} {sent:>6} sent {delivered:>6} delivered  {shares}{marker}")
    quarantined, skipped = inbox_problems(ingest)
    if quarantined:
        lines.append("files not read, quarantined (fix or remove them; see the quarantined_files table):")
        lines += [f"  {item}" for item in quarantined]
    if skipped:
        lines.append("files skipped (not data):")
        lines += [f"  {item}" for item in skipped]
    reasons = summary["quarantine_reasons"]
    if reasons:
        lines.append("quarantined rows (values are in the quarantined_rows table):")
        lines += [f"  {_redact(reason)}" for reason in reasons[:10]]
        if len(reasons) > 10:
            lines.append(f"  … and {len(reasons) - 10} more")
    return "\n".join(lines)


def inbox_problems(ingest: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Files the inbox assets quarantined and skipped, as ``<inbox>/<file>: <reason>``, each once (the
    contact and order readers of inbox/spreadsheets/ see the same files)."""
    quarantined: dict[str, None] = {}
    skipped: dict[str, None] = {}
    for key, meta in sorted(ingest.items()):
        folder = key.split("/", 1)[0]
        if folder not in INBOX_KINDS:
            continue
        quarantined.update((f"{folder}/{item}", None) for item in meta.get("files_quarantined") or ())
        skipped.update((f"{folder}/{item}", None) for item in meta.get("files_skipped") or ())
    return list(quarantined), list(skipped)


def run_pipeline(settings: DriplineSettings) -> tuple[bool, dict[str, dict[str, Any]], list[str]]:
    """Materialise every asset once; returns success, ingest metadata by asset, and failure messages."""
    import dagster as dg

    from orchestration.lib.dbt_project import dbt_project

    dbt_project.preparer.prepare(dbt_project)
    from orchestration.definitions import defs

    job = defs().resolve_job_def("pipeline_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            # Step-by-step engine events belong in the UI, not in the terminal of `make run`.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    ingest = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        path = materialization.asset_key.path
        # Inbox ingestion and API syncs (two-part keys: source/entity), and the campaigns (campaigns/<name>).
        if len(path) == 2 and path[0] != "outreach":
            ingest[materialization.asset_key.to_user_string()] = {
                k: v.value for k, v in materialization.metadata.items()
            }
    failures = [
        f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ]
    return result.success, ingest, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dripline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole pipeline once and print a summary")
    sub.add_parser("ui", help="start the Dagster UI on the home (dagster dev)")
    suppress_parser = sub.add_parser(
        "suppress", help="never mail these addresses again: an erasure request or an opt-out received by hand"
    )
    suppress_parser.add_argument("emails", nargs="+", metavar="EMAIL")
    suppress_parser.add_argument(
        "--kind", choices=("erasure", "global_unsubscribe"), default="global_unsubscribe"
    )
    suppress_parser.add_argument("--reason", help="why, for the record (e.g. the ticket)")
    sub.add_parser(
        "receiver",
        help="serve the SendGrid event and inbound-mail receiver on DRIPLINE_RECEIVER_HOST:PORT (uvicorn)",
    )
    retire_parser = sub.add_parser(
        "retire-batch",
        help="stop dbt reading one landed batch (audited in retired_batches.csv beside landing; nothing is "
        "deleted; docs/runbook.md says when)",
    )
    retire_parser.add_argument("load_id", nargs="?", metavar="LOAD_ID", help="the batch's _load_id")
    retire_parser.add_argument("--reason", help="why, for the audit trail (required to retire)")
    retire_parser.add_argument("--by", help="who retires it (default: the login name)")
    retire_parser.add_argument("--list", action="store_true", help="list the retired batches")
    args, rest = parser.parse_known_args(argv)

    settings = DriplineSettings()
    if args.command == "ui":
        prepare_home(settings)
        use_home(settings)
        command = [sys.executable, "-m", "dagster", "dev", *rest]  # the code location is in pyproject.toml
        os.execv(sys.executable, command)
    if args.command == "suppress":
        return suppress(settings, args)
    if args.command == "receiver":
        return receiver(settings)
    if args.command == "retire-batch":
        return retire(settings, args)
    try:
        # before anything runs: a bad segment or campaign definition stops here
        load_segments(settings.segments_file)
        configured_campaigns(settings)
    except (SegmentDefinitionError, CampaignDefinitionError) as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID_DEFINITIONS
    for note in prepare_home(settings):
        print(note)
    replayed = replay_sample_tracking(settings)
    if replayed:
        print(replayed)
    use_home(settings)
    if os.environ.get("DRIPLINE_AS_OF") and settings.as_of is None:
        print(
            f"Demo clock: as of {os.environ['DRIPLINE_AS_OF']}, the sample data's date (DRIPLINE_AS_OF wins)."
        )
    print(f"Running the pipeline on {settings.home} …", flush=True)
    success, ingest, failures = run_pipeline(settings)
    if not success:
        print("\nThe run failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return EXIT_FAILED
    print(format_summary(ingest, warehouse_summary(settings.warehouse_path)))
    print(
        f"\nWarehouse: {settings.warehouse_path}\nUI: make ui (runs are kept in {os.environ['DAGSTER_HOME']})"
    )
    quarantined, _ = inbox_problems(ingest)
    if quarantined:
        print(
            f"\n{len(quarantined)} inbox file(s) could not be read and were quarantined; everything else is "
            f"built. Exit code {EXIT_FILES_QUARANTINED}.",
            file=sys.stderr,
        )
        return EXIT_FILES_QUARANTINED
    return 0


def suppress(settings: DriplineSettings, args: argparse.Namespace) -> int:
    """Land operator suppressions; every later send decision reads them (docs/runbook.md)."""
    from orchestration.lib.outreach import land_suppressions

    rows = [{"email": email, "kind": args.kind, "reason": args.reason} for email in args.emails]
    landed = land_suppressions(settings.landing_dir, rows, origin="operator")
    print(f"{landed} address(es) suppressed ({args.kind}); no campaign will mail them again.")
    return 0


def receiver(settings: DriplineSettings) -> int:
    """Serve the SendGrid receiver (docs/receiver.md) until stopped; it writes the home's spool only."""
    import logging

    import uvicorn

    from connectors.webhooks.receiver import ReceiverConfig, ReceiverConfigError, create_app

    secret = settings.inbound_secret.get_secret_value() if settings.inbound_secret else None
    config = ReceiverConfig(
        landing_dir=settings.landing_dir,
        event_public_key=settings.sendgrid_webhook_public_key,
        inbound_secret=secret,
        inbound_parse_public_key=settings.inbound_parse_public_key,
        tolerance_seconds=settings.receiver_timestamp_tolerance_seconds,
        max_event_bytes=settings.receiver_max_event_bytes,
        max_inbound_bytes=settings.receiver_max_inbound_bytes,
    )
    try:
        app = create_app(config)
    except ReceiverConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if not config.event_public_key:
        print("DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY is not set: event posts get 503.", file=sys.stderr)
    if not secret:
        print("DRIPLINE_INBOUND_SECRET is not set: inbound mail posts get 503.", file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(
        f"Receiving SendGrid posts on http://{settings.receiver_host}:{settings.receiver_port} "
        f"into {settings.landing_dir / 'sendgrid' / 'webhook_requests'}",
        flush=True,
    )
    # One worker: the spool writes are fsync-bound and run in its thread pool. The proxy in front terminates
    # TLS and may forward the client address; our own log line per request replaces uvicorn's access log.
    # Past 64 posts at once (each may hold a body up to the size limit) uvicorn answers 503; SendGrid retries.
    uvicorn.run(
        app,
        host=settings.receiver_host,
        port=settings.receiver_port,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        limit_concurrency=64,
        timeout_graceful_shutdown=30,
    )
    return 0


def retire(settings: DriplineSettings, args: argparse.Namespace) -> int:
    """Retire one landed batch: dbt's sources skip it from the next build on (docs/runbook.md)."""
    from orchestration.lib.retired_batches import RetireError, retire_batch, retired_batches

    if args.list:
        for batch in retired_batches(settings.home):
            print(
                f"{batch.load_id}  {batch.source}/{batch.entity}  {batch.retired_at}  by {batch.retired_by}: "
                f"{batch.reason}"
            )
        return 0
    if not args.load_id:
        print("name the batch: dripline retire-batch LOAD_ID --reason '...'", file=sys.stderr)
        return EXIT_INVALID_DEFINITIONS
    try:
        batch = retire_batch(settings.home, args.load_id, args.reason or "", retired_by=args.by)
    except RetireError as error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    print(
        f"Retired {batch.source}/{batch.entity} batch {batch.load_id} ({batch.reason}); it stays in landing "
        f"and the next run builds without it. The record is in {settings.home / 'retired_batches.csv'}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
