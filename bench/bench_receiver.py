"""`make bench` (receiver part): the SendGrid receiver under Event Webhook load on loopback.

The receiver runs as in production, `dripline receiver` (uvicorn, one worker) on a fresh home under
bench/out/, removed afterwards unless `--keep`. A separate load process posts SendGrid-sized batches
(`--events` events a request, about 420 bytes each, so 1,000 events are a 420 KB body; SendGrid's own
batches stop at 768 KB) over `--connections` keep-alive connections for `--seconds`, each request signed as
SendGrid signs (ECDSA P-256, SHA-256 over the timestamp and the raw body) at the moment it is sent. Bodies
are built before the clock starts; each connection cycles through its own. `--rate` paces the whole load to
that many events a second: by default twice the target, so the latency is that of a receiver carrying more
than it must; `--rate 0` posts as fast as the receiver answers (its ceiling, where latency is mostly
queueing behind the other connections).

Reported: acknowledged events a second, requests a second, the acknowledgement latency (send to answer)
p50/p99/max, and the durability check: after the receiver stops, every acknowledged request's spool file
must exist and hold the exact bytes sent (its SHA-256), or the bench fails. Then the pickup lands every spool
file into landing/sendgrid/events and is timed (`--no-pickup` skips it). Target on the 2-core reference
machine: >= 10,000 events/s with p99 < 100 ms, every acknowledged event durable.
Results go to bench/out/receiver_results.json.

    .venv/bin/python bench/bench_receiver.py [--seconds 20] [--connections 4] [--events 1000] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out"
sys.path.insert(0, str(REPO_ROOT))
EVENTS_PATH = "/webhooks/sendgrid/events"
TARGET_EVENTS_PER_SECOND = 10_000
TARGET_P99_MS = 100.0


# --- the load process -----------------------------------------------------------------------------------


def _bodies(connection: int, count: int, events: int) -> list[bytes]:
    from tests.webhooks.harness import event_batch

    return [event_batch((connection * count + i) * events, events) for i in range(count)]


def run_load(config: dict[str, Any]) -> dict[str, Any]:
    """Post signed batches over keep-alive connections; returns every answer's latency and what was acked."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(config["private_key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    host, port = config["host"], config["port"]
    connections, events = config["connections"], config["events"]
    bodies = [_bodies(n, config["bodies"], events) for n in range(connections)]
    digests = [[hashlib.sha256(b).hexdigest() for b in mine] for mine in bodies]
    interval = connections * events / config["rate"] if config.get("rate") else 0.0
    results: list[list[tuple[float, int, str | None, str]]] = [[] for _ in range(connections)]
    errors: list[str] = []
    start_gate = threading.Barrier(connections + 1)
    clock: dict[str, float] = {}

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine, out = bodies[n], results[n]
        start_gate.wait()
        deadline = clock["start"] + config["seconds"]
        next_at = time.perf_counter()
        i = 0
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if interval:
                if now < next_at:
                    time.sleep(next_at - now)
                next_at += interval
            body = mine[i % len(mine)]
            stamp = str(int(time.time()))
            signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
            headers = {
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": signature,
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            }
            sent = time.perf_counter()
            try:
                conn.request("POST", EVENTS_PATH, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"connection {n}: {type(error).__name__}: {error}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                i += 1
                continue
            latency = time.perf_counter() - sent
            stored = json.loads(payload).get("stored") if response.status == 200 else None
            if response.status != 200:
                errors.append(f"connection {n}: {response.status} {payload[:200]!r}")
            out.append((latency, response.status, stored, digests[n][i % len(mine)]))
            i += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    clock["start"] = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - clock["start"]
    answers = [r for per in results for r in per]
    return {
        "wall_seconds": wall,
        "latencies": [r[0] for r in answers],
        "statuses": [r[1] for r in answers],
        "acked": [(r[2], r[3]) for r in answers if r[1] == 200],
        "errors": errors[:20],
        "error_count": len(errors),
    }


# --- the parent: receiver, load, checks -----------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20, help="how long the load runs")
    parser.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--events", type=int, default=1000, help="events a request (SendGrid: up to 768 KB)")
    parser.add_argument(
        "--bodies", type=int, default=16, help="distinct bodies each connection cycles through"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=2 * TARGET_EVENTS_PER_SECOND,
        help="pace the load to this many events a second (default twice the target; 0: as fast as answered)",
    )
    parser.add_argument("--no-pickup", action="store_true", help="skip timing the pickup")
    parser.add_argument("--keep", action="store_true", help="keep the receiver's home under bench/out/")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(run_load(json.loads(sys.stdin.read()))))
        return 0

    from cryptography.hazmat.primitives import serialization

    from connectors.webhooks import collect_webhook_requests
    from tests.webhooks.harness import ReceiverProcess, SendGridSigner

    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    home = OUT / f"receiver-home-{os.getpid()}"
    signer = SendGridSigner()
    receiver = ReceiverProcess(home, {"DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key}).start()
    private_pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = {
        "host": "127.0.0.1",
        "port": receiver.port,
        "private_key": private_pem,
        "connections": args.connections,
        "events": args.events,
        "bodies": args.bodies,
        "seconds": args.seconds,
        "rate": args.rate,
    }
    try:
        load = subprocess.run(
            [sys.executable, __file__, "--load"],
            input=json.dumps(config),
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO_ROOT,
        )
    finally:
        receiver.stop()
    if load.returncode != 0:
        print(f"the load process failed:\n{load.stderr}", file=sys.stderr)
        return 1
    result = json.loads(load.stdout)

    spool = home / "landing" / "sendgrid" / "webhook_requests" / "events"
    missing = [
        name
        for name, digest in result["acked"]
        if not (spool / name).is_file() or hashlib.sha256((spool / name).read_bytes()).hexdigest() != digest
    ]
    load_after = os.getloadavg()[0]
    acked_requests = len(result["acked"])
    acked_events = acked_requests * args.events
    latencies_ms = [x * 1e3 for x in result["latencies"]]
    rate = acked_events / result["wall_seconds"]
    p50, p99 = _percentile(latencies_ms, 0.50), _percentile(latencies_ms, 0.99)
    pickup: dict[str, Any] = {}
    if not args.no_pickup:
        started = time.perf_counter()
        report = collect_webhook_requests(home / "landing")
        seconds = time.perf_counter() - started
        pickup = {"seconds": seconds, "requests": report.event_requests, "events": report.events}

    met = rate >= TARGET_EVENTS_PER_SECOND and p99 < TARGET_P99_MS and not missing
    summary = {
        "seconds": args.seconds,
        "connections": args.connections,
        "events_per_request": args.events,
        "body_bytes": len(_bodies(0, 1, args.events)[0]),
        "rate_limit": args.rate,
        "requests": len(result["statuses"]),
        "acked_requests": acked_requests,
        "acked_events": acked_events,
        "events_per_second": rate,
        "requests_per_second": acked_requests / result["wall_seconds"],
        "ack_ms": {
            "p50": p50,
            "p99": p99,
            "max": max(latencies_ms, default=0.0),
            "mean": statistics.fmean(latencies_ms) if latencies_ms else 0.0,
        },
        "errors": result["errors"],
        "error_count": result["error_count"],
        "acked_not_durable": len(missing),
        "pickup": pickup,
        "target_met": met,
        "cores": os.cpu_count(),
        "load_average": [load_before, load_after],
        "python": sys.version.split()[0],
    }
    (OUT / "receiver_results.json").write_text(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
        receiver.log_path.unlink(missing_ok=True)
    pickup_text = (
        f"; pickup {pickup['events']:,} events from {pickup['requests']:,} spool files in "
        f"{pickup['seconds']:.1f} s ({pickup['events'] / pickup['seconds']:,.0f} events/s)"
        if pickup
        else ""
    )
    print(
        f"receiver: {args.events}-event batches ({summary['body_bytes'] / 1024:,.0f} KB) over "
        f"{args.connections} connections for {args.seconds:g} s: {rate:,.0f} events/s "
        f"({summary['requests_per_second']:,.1f} requests/s), ack p50 {p50:.1f} ms p99 {p99:.1f} ms "
        f"max {summary['ack_ms']['max']:.1f} ms; {acked_events:,} acknowledged events, "
        f"{len(missing)} not durable, {result['error_count']} errors{pickup_text}. "
        f"Target >= {TARGET_EVENTS_PER_SECOND:,} events/s, p99 < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'MISSED'}. {os.cpu_count()} cores (load {load_before:.1f} before, "
        f"{load_after:.1f} after), python {sys.version.split()[0]}; "
        f"written to {OUT / 'receiver_results.json'}"
    )
    if missing:
        print(f"acknowledged but not in the spool: {missing[:5]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
