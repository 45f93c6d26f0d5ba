"""Crashes and overlapping runs: a sender SIGKILLed at random points and re-run, and two senders at once,
never mail a key twice and never drop one silently.

SendGrid is the fake in a process of its own (``python -m tests.fakes.sendgrid``), which appends every
recipient it accepted to a file before it answers: the file is the truth of what was sent, whatever happened
to the sender.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.lib.paths import REPO_ROOT
from tests.outreach.harness import Home, customer

API_KEY = "SG.crash-test"
RECIPIENTS = 3000
BATCH = 50

SENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from connectors.apis.sendgrid import SendGridMailer
    from orchestration.lib.campaigns import load_campaigns
    from tests.outreach.harness import SEGMENTS, Home, at

    root, url, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    home = Home(root)
    [campaign] = load_campaigns(home.campaigns_dir, SEGMENTS)
    mailer = SendGridMailer("{key}", url, timeout=10, retry_timeouts=False)
    report = home.run(campaign, at("2026-11-16 10:00"), mode="live", mailer=mailer, batch_size=batch)
    print(report.summary_line(), flush=True)
    """
).format(key=API_KEY)


@contextmanager
def sendgrid_process(record: Path, latency: float) -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "tests.fakes.sendgrid", "--api-key", API_KEY),
            *("--record", str(record), "--latency", str(latency)),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_sender(home: Home, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, str(home.root), url, str(BATCH)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def accepted_send_ids(record: Path) -> Counter:
    if not record.exists():
        return Counter()
    return Counter(
        json.loads(line)["custom_args"]["send_id"] for line in record.read_text().splitlines() if line
    )


@pytest.fixture
def big_home(outreach_home: Home) -> Home:
    outreach_home.build([customer(f"c{i:05d}", f"person{i}@guests.co.kr") for i in range(RECIPIENTS)])
    outreach_home.write_campaign(
        steps=[{"id": "welcome", "subject": "{{ full_name }}님", "html": "<p>안녕하세요</p>"}]
    )
    return outreach_home


def test_sigkill_at_random_points_then_a_rerun_sends_every_key_once(big_home, tmp_path):
    record = tmp_path / "accepted.jsonl"
    chances = random.Random(20261207)
    kills = 0
    with sendgrid_process(record, latency=0.05) as url:
        for _ in range(3):
            before = sum(accepted_send_ids(record).values())
            sender = start_sender(big_home, url)
            # kill it mid-send: once SendGrid has accepted its first batch, after a random further delay
            deadline = time.monotonic() + 60
            while sum(accepted_send_ids(record).values()) == before and sender.poll() is None:
                assert time.monotonic() < deadline, "the sender never started sending"
                time.sleep(0.02)
            time.sleep(chances.uniform(0.0, 0.6))
            if sender.poll() is None:
                sender.send_signal(signal.SIGKILL)
                kills += 1
            sender.wait(timeout=30)
        final = start_sender(big_home, url)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err
    accepted = accepted_send_ids(record)
    sends = {s["send_id"]: s for s in big_home.sends()}
    assert kills >= 1, "the sender finished before any kill: the test proved nothing"
    assert len(sends) == RECIPIENTS
    twice = [send_id for send_id, n in accepted.items() if n > 1]
    assert twice == [], f"{len(twice)} keys were accepted more than once"
    statuses = Counter(s["status"] for s in sends.values())
    assert set(statuses) <= {"sent", "unknown"}, statuses
    # A kill leaves at most the request in flight unknown; unknown rows are never resent.
    assert statuses["unknown"] <= kills * BATCH
    assert {i for i, s in sends.items() if s["status"] == "sent"} <= set(accepted)
    # Nothing dropped silently: every key is sent, or unknown and held for reconciliation.
    assert statuses["sent"] + statuses["unknown"] == RECIPIENTS
    unknown = [s for s in sends.values() if s["status"] == "unknown"]
    assert all("never resent" in s["reason"] for s in unknown)


def test_two_overlapping_runs_send_each_key_once(big_home, tmp_path):
    record = tmp_path / "accepted.jsonl"
    with sendgrid_process(record, latency=0.005) as url:
        first, second = start_sender(big_home, url), start_sender(big_home, url)
        outputs = [process.communicate(timeout=300) for process in (first, second)]
        assert first.returncode == 0 and second.returncode == 0, outputs
    accepted = accepted_send_ids(record)
    assert len(accepted) == RECIPIENTS and max(accepted.values()) == 1
    assert Counter(s["status"] for s in big_home.sends()) == {"sent": RECIPIENTS}
    summaries = sorted(out.strip() for out, _ in outputs)
    # one run sent everything; the other waited for the lock, then found every enrolment complete
    assert summaries == [
        f"live: 0 due, {RECIPIENTS} exited",
        f"live: {RECIPIENTS} due, {RECIPIENTS} sent, {RECIPIENTS} enrolled",
    ]
