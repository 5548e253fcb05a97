"""A tiny HTTP/1.1 origin server for the fault proxy's own tests (the standard library's, not h11).

    GET|HEAD /bytes/<size>[?chunked=1]   <size> bytes of seeded content (Content-Length, or chunked)
    <any>    /echo<anything>            JSON: method, raw target, headers as received, body size and sha256

It records every request it answers, and sends `100 Continue` to requests that expect it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.http.ocitest import seeded_chunks

SEED = 7
BYTES_PATH = re.compile(r"/bytes/(\d+)")


class Origin:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, raw target), in arrival order
        self.peers: list[tuple[str, int]] = []  # the address each request came from
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="origin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, method: str, target: str, peer: tuple[str, int]) -> None:
        with self._lock:
            self.requests.append((method, target))
            self.peers.append(peer)

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def _handler_for(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, chunked, 100-continue
        disable_nagle_algorithm = True  # head and body go in separate writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except ConnectionError:
                self.close_connection = True  # the proxy reset it on purpose

        def _answer(self) -> None:
            origin.record(self.command, self.path, self.client_address)
            path = self.path.partition("?")[0]
            if path.startswith("/echo"):
                self._echo()
            elif (match := BYTES_PATH.fullmatch(path)) and self.command in ("GET", "HEAD"):
                self._bytes(int(match.group(1)), chunked="chunked=1" in self.path)
            else:
                self.send_error(404)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server's names

        def _echo(self) -> None:
            digest, size = hashlib.sha256(), 0
            for chunk in self._request_body():
                digest.update(chunk)
                size += len(chunk)
            answer = {
                "method": self.command,
                "target": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "size": size,
                "sha256": digest.hexdigest(),
            }
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _request_body(self) -> Iterator[bytes]:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    yield self.rfile.read(size)
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    raise ConnectionError("request body cut short")
                remaining -= len(chunk)
                yield chunk

        def _bytes(self, size: int, chunked: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            for chunk in seeded_chunks(SEED, size):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

    return Handler


def content(size: int) -> bytes:
    """What /bytes/<size> serves."""
    return b"".join(seeded_chunks(SEED, size))
