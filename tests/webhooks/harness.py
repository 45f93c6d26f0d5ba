"""SendGrid's side of the receiver tests: signing as SendGrid signs, and the receiver in a process of its own.

``SendGridSigner`` holds a generated P-256 key pair: its public key is base64 DER (SubjectPublicKeyInfo), the
form SendGrid shows for the Event Webhook and returns for a Parse security policy, and it signs exactly as
SendGrid does: ECDSA with SHA-256 over the timestamp header's text followed by the raw body bytes, the
signature base64 DER in ``X-Twilio-Email-Event-Webhook-Signature``.

``ReceiverProcess`` runs the real ``dripline receiver`` command (``orchestration.cli``: settings from the
environment, uvicorn on a free loopback port) on a home of its own, waits for ``/healthz``, and stops it
with SIGTERM, or kills it with SIGKILL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

REPO_ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
EVENTS_PATH = "/webhooks/sendgrid/events"
INBOUND_PATH = "/webhooks/sendgrid/inbound"


class SendGridSigner:
    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(stamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE: base64.b64encode(signature).decode("ascii"), TIMESTAMP: stamp}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sendgrid_event(n: int, **fields: object) -> dict[str, object]:
    """An Event Webhook event as SendGrid posts it, with our custom args as top-level keys."""
    event: dict[str, object] = {
        "email": f"customer{n}@example.com",
        "timestamp": 1_765_000_000 + n,
        "event": "delivered",
        "sg_event_id": f"ZGVsaXZlcmVk-{n:08d}",
        "sg_message_id": f"msg{n // 100:06d}.filter0001p1las1-12345-1234567-{n % 100}",
        "smtp-id": f"<msg{n}@example.com>",
        "response": "250 OK",
        "category": ["welcome", "drip"],
        "send_id": hashlib.sha256(str(n).encode()).hexdigest()[:24],
        "campaign": "welcome",
        "step": "day-0",
        "customer_id": f"c{n:07d}",
    }
    event.update(fields)
    return event


def event_batch(start: int, count: int) -> bytes:
    return json.dumps([sendgrid_event(n) for n in range(start, start + count)]).encode()


def spool_entries(home: Path) -> list[Path]:
    """Every entry of both spool directories, temporary files included."""
    root = home / "landing" / "sendgrid" / "webhook_requests"
    return sorted(
        p for kind in ("events", "inbound") if (root / kind).is_dir() for p in (root / kind).iterdir()
    )


class PortTaken(RuntimeError):
    pass


class ReceiverProcess:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home.parent / f"receiver-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DRIPLINE_")},
            "DRIPLINE_HOME": str(home),
            "DRIPLINE_RECEIVER_HOST": "127.0.0.1",
            "DRIPLINE_RECEIVER_PORT": str(self.port),
            "PYTHONPATH": str(REPO_ROOT),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60, attempts: int = 3) -> ReceiverProcess:
        """Start and wait for /healthz; a port another process took meanwhile is traded for a new one."""
        for attempt in range(attempts):
            try:
                return self._start(timeout)
            except PortTaken:
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
                self.env["DRIPLINE_RECEIVER_PORT"] = str(self.port)
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> ReceiverProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "receiver"],
            cwd=self.home,  # no .env of a developer's working directory
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log().lower():
                    raise PortTaken(self.port)
                raise RuntimeError(f"the receiver exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"the receiver did not answer /healthz within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
