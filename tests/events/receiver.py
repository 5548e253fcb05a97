"""A small webhook receiver on loopback: records every envelope, or refuses, hangs or is down."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.procs import free_port
from tests.support.wait import wait_until


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        receiver = self.server.receiver
        if receiver.mode == "hang":
            receiver.hold()
        if receiver.mode == "fail":
            self.send_response(503)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        receiver.record({k.lower(): v for k, v in self.headers.items()}, json.loads(body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, receiver: Receiver):
        super().__init__(("127.0.0.1", port), _Handler)
        self.receiver = receiver


class Receiver:
    """mode: "ok" (record, 200), "fail" (503, nothing recorded) or "hang" (answer only once released)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/events"
        self.mode = "ok"
        self.released = threading.Event()
        self.held = 0  # deliveries waiting in "hang" mode right now
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def record(self, headers: dict[str, str], envelope: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((headers, envelope))

    def hold(self) -> None:
        """Keep a delivery waiting until released."""
        with self._lock:
            self.held += 1
        self.released.wait()
        with self._lock:
            self.held -= 1

    def start(self) -> Receiver:
        self._server = _Server(self.port, self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: connections to the port are refused until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for _, envelope in self.requests for event in envelope["events"]]

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0) -> list[dict[str, Any]]:
        """The events once `done` holds for them."""
        wait_until(lambda: done(self.events()), timeout, lambda: f"the receiver got only {self.events()}")
        return self.events()
