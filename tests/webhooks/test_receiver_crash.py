"""A SIGKILL of the receiver under load loses no acknowledged event.

Four client connections post signed batches as fast as the receiver answers; each client records the body of
every request answered 200. The receiver process is killed with SIGKILL half-way; then every acknowledged
body must be in the spool byte for byte, every finished spool file must be whole, a new receiver must start
on the same home, and the pickup must land every acknowledged event.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import requests

from connectors.webhooks import collect_webhook_requests
from connectors.webhooks.spool import spool_files
from tests.webhooks.harness import EVENTS_PATH, ReceiverProcess, SendGridSigner, event_batch

CLIENTS = 4
EVENTS_PER_REQUEST = 250
ACKED_BEFORE_KILL = 40


def test_a_sigkill_under_load_loses_no_acknowledged_event(tmp_path):
    signer = SendGridSigner()
    home = tmp_path / "home"
    env = {"DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key}
    receiver = ReceiverProcess(home, env).start()
    acked: list[tuple[str, bytes]] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        session = requests.Session()
        sent = 0
        while not stop.is_set():
            start = (number * 1_000_000) + sent * EVENTS_PER_REQUEST
            body = event_batch(start, EVENTS_PER_REQUEST)
            sent += 1
            headers = {"Content-Type": "application/json", **signer.headers(body)}
            try:
                response = session.post(receiver.url + EVENTS_PATH, data=body, headers=headers, timeout=10)
            except requests.RequestException:
                return  # the receiver is gone: this request was never acknowledged
            if response.status_code == 200:
                with lock:
                    acked.append((response.json()["stored"], body))
            else:
                failures.append(f"{response.status_code} {response.text}")
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < ACKED_BEFORE_KILL and time.monotonic() < deadline and not failures:
        time.sleep(0.01)
    receiver.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert not failures
    assert len(acked) >= ACKED_BEFORE_KILL
    spool = home / "landing" / "sendgrid" / "webhook_requests" / "events"
    for name, body in acked:
        assert (spool / name).read_bytes() == body, name
    finished = spool_files(home / "landing", "events")
    assert {name for name, _ in acked} <= {p.name for p in finished}
    for path in finished:  # whole files only: what a crash cuts off stays under a temporary name
        data = path.read_bytes()
        assert path.name.endswith(f"-{hashlib.sha256(data).hexdigest()[:16]}.json")
        assert len(json.loads(data)) == EVENTS_PER_REQUEST

    restarted = ReceiverProcess(home, env).start()
    try:
        body = event_batch(9_000_000, 3)
        response = requests.post(
            restarted.url + EVENTS_PATH,
            data=body,
            headers={"Content-Type": "application/json", **signer.headers(body)},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        restarted.stop()
    report = collect_webhook_requests(home / "landing")
    assert report.unparseable == 0
    assert report.event_requests == len(finished) + 1
    assert report.events == (len(finished) * EVENTS_PER_REQUEST) + 3
    assert report.events >= len(acked) * EVENTS_PER_REQUEST
