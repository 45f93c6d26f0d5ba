"""A threaded HTTP server on 127.0.0.1 that hands each GET or POST to an app callable and records it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


App = Callable[[Request], Reply]


class LoopbackServer:
    """Serve ``app`` on a loopback port (ephemeral by default); ``requests`` lists what arrived, in order.

    ``record_requests=False`` keeps nothing (a long-running fake in its own process, fed by a benchmark).
    A POST arrives as a ``post_request_class`` (a subclass of ``Request`` a fake can tell apart).
    """

    post_request_class: type[Request] = Request

    def __init__(self, app: App, *, port: int = 0, record_requests: bool = True) -> None:
        self.app = app
        self.requests: list[Request] = []
        self.record_requests = record_requests
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @contextmanager
    def running(self) -> Iterator[LoopbackServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve("GET", b"")

            def do_POST(self) -> None:
                self._serve("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _serve(self, method: str, body: bytes) -> None:
                parts = urlsplit(self.path)
                request = (server.post_request_class if method == "POST" else Request)(
                    method=method,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                if server.record_requests:
                    with server._lock:
                        server.requests.append(request)
                reply = server.app(request)
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                payload = reply.payload()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@dataclass
class Fault:
    """One queued fault: ``kind`` says what the fake answers instead of its answer, the rest tune it (a
    status, a ``Retry-After``, a delay, a body, the method it hits). A fake's own defaults come from its
    ``fault_defaults``."""

    kind: str
    times: int = 1
    skip: int = 0
    status: int = 500
    retry_after: int | str | None = 1
    delay: float = 1.0
    body: bytes | None = None
    method: str | None = None
    reset_in: float = 1.0


class FaultQueue:
    """Faults a fake serves instead of its answer: ``inject`` queues one for the next ``times`` matching
    requests after letting ``skip`` through; ``take`` hands the fault for this request, if any."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.items: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, kind: str, *, times: int = 1, skip: int = 0, **options: Any) -> None:
        with self._lock:
            self.items.append(Fault(kind, times=times, skip=skip, **{**self.defaults, **options}))

    def __len__(self) -> int:
        return len(self.items)

    def clear(self) -> None:
        with self._lock:
            self.items.clear()

    def take(self, applies: Callable[[Fault], bool] = lambda _fault: True) -> Fault | None:
        """The first queued fault that ``applies`` to this request, once its ``skip`` is used up."""
        with self._lock:
            for index, fault in enumerate(self.items):
                if not applies(fault):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.items.pop(index)
                return fault
            return None


class FakeApi:
    """Base of the API fakes: the fake is the app its loopback server answers with; ``requests`` is what
    arrived, ``faults`` what it will answer instead (``inject``)."""

    fault_defaults: ClassVar[dict[str, Any]] = {}
    server_class: ClassVar[type[LoopbackServer]] = LoopbackServer

    def __init__(self, **server_options: Any) -> None:
        self.faults = FaultQueue(**self.fault_defaults)
        self._lock = threading.Lock()
        self.server = self.server_class(self, **server_options)

    @classmethod
    @contextmanager
    def running(cls, *args: Any, **kwargs: Any) -> Iterator[Self]:
        fake = cls(*args, **kwargs)
        try:
            with fake.server.running():
                yield fake
        finally:
            fake.close()

    def __call__(self, request: Request) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the fake holds beyond its server (nothing, unless a subclass says so)."""

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def inject(self, kind: str, *, times: int = 1, skip: int = 0, **options: Any) -> None:
        """Queue a fault for the next ``times`` requests after letting ``skip`` requests through."""
        self.faults.inject(kind, times=times, skip=skip, **options)


class RecordStoreFake(FakeApi):
    """A fake API that serves records of its ``entities``, each by its ``id``, to one ``token``."""

    entities: ClassVar[tuple[str, ...]] = ()

    def __init__(self, token: str, **server_options: Any) -> None:
        super().__init__(**server_options)
        self.token = token
        self.records: dict[str, dict[int, dict[str, Any]]] = {entity: {} for entity in self.entities}

    def add(self, entity: str, *records: dict[str, Any]) -> None:
        """Add or replace records (by id)."""
        with self._lock:
            for record in records:
                self.records[entity][record["id"]] = record

    def delete(self, entity: str, record_id: int) -> None:
        with self._lock:
            del self.records[entity][record_id]
