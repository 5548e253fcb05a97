"""The floor: what dockyard's hot paths would cost with no registry in them at all.

Two servers, each started by the harness as a process of its own so that its CPU is measured the
same way as a registry's:

- `manifest`: granian with dockyard's own server settings (RSGI, one worker, HTTP/1.1 keep-alive,
  the same runtime threads) and an app that answers every GET with the manifest bytes and headers
  dockyard sent, and every HEAD with its headers, from memory: no routing, no store, no logging.
- `receiver`: a raw HTTP/1.1 socket server for pushes. It answers a POST that opens an upload with
  202 and a Location, and reads any request body into one preallocated buffer, hashing it with
  sha256 and writing it to a file on the same disk (starting writeback every 32 MiB, as dockyard
  does); a PUT fsyncs the file and checks the digest in its query before its 201. One thread per
  connection, receiving, hashing and writing in turn: nothing else.

    python -m bench.floor manifest --listen 127.0.0.1:PORT --response FILE.json
    python -m bench.floor receiver --listen 127.0.0.1:PORT --dir DIR
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RESPONSE_ENV = "BENCH_FLOOR_RESPONSE"
RECEIVE_BUFFER = 1 << 20
# Writeback starts every this many bytes, as dockyard's blob store does: the fsync at the end then
# waits for the tail only, and the floor measures receiving rather than a disk left idle until then.
WRITEBACK_BYTES = 32 << 20


class ManifestApp:
    """The RSGI app of the `manifest` floor: one prepared answer per method."""

    def __init__(self, body: bytes, get_headers: list[tuple[str, str]], head_headers: list[tuple[str, str]]):
        self._body = body
        self._get_headers = get_headers
        self._head_headers = head_headers

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.method == "HEAD":
            protocol.response_empty(200, self._head_headers)
        else:
            protocol.response_bytes(200, self._get_headers, self._body)


def manifest_app() -> ManifestApp:
    """granian's factory: the answer comes from the file named by BENCH_FLOOR_RESPONSE."""
    spec = json.loads(Path(os.environ[RESPONSE_ENV]).read_text())
    return ManifestApp(
        bytes.fromhex(spec["body"]),
        [(name, value) for name, value in spec["get_headers"]],
        [(name, value) for name, value in spec["head_headers"]],
    )


def write_response(path: Path, body: bytes, get_headers: dict[str, str], head_headers: dict[str, str]) -> None:
    """The answers the manifest floor gives: dockyard's own, as a client received them."""
    path.write_text(
        json.dumps(
            {"body": body.hex(), "get_headers": list(get_headers.items()), "head_headers": list(head_headers.items())}
        )
    )


def serve_manifest(host: str, port: int) -> None:
    """granian as dockyard runs it (dockyard/server.py), with the floor's app."""
    from granian.constants import HTTPModes, Interfaces  # noqa: PLC0415 - the receiver does not need granian
    from granian.http import HTTP1Settings  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415
    from granian.server import Server  # noqa: PLC0415

    Server(
        "bench.floor:manifest_app",
        factory=True,
        interface=Interfaces.RSGI,
        address=host,
        port=port,
        workers=1,
        runtime_threads=max(1, os.cpu_count() or 1),
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=10_000, keep_alive=True, max_buffer_size=1 << 20),
        backlog=4096,
        backpressure=4096,
        log_level=LogLevels.warning,
    ).serve()


# ---------------------------------------------------------------------------------------------
# the raw receiver


class Closed(Exception):
    """The peer closed its connection."""


def read_head(sock: socket.socket, data: bytes = b"") -> tuple[str, dict[str, str], bytes]:
    """The first line and headers of a request or response (after `data`, read already), and the
    bytes read past them."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return first, headers, rest


def receive_into(sock: socket.socket, view: memoryview, filled: int, room: int) -> None:
    """Fill `view[filled:room]` from the socket."""
    while filled < room:
        got = sock.recv_into(view[filled:room])
        if not got:
            raise Closed
        filled += got


def write_all(fd: int, data: memoryview) -> None:
    written = 0
    while written < len(data):
        written += os.write(fd, data[written:])


class _Receiver:
    """One connection: requests read with recv_into, bodies through one preallocated buffer."""

    def __init__(self, sock: socket.socket, directory: Path, ids: itertools.count[int]):
        self.sock = sock
        self.dir = directory
        self.ids = ids
        self.buf = bytearray(RECEIVE_BUFFER)
        self.view = memoryview(self.buf)
        self.pending = b""  # bytes read past the end of a request head
        self.uploads: dict[str, tuple[int, Any]] = {}  # upload path -> (fd, running sha256)

    def run(self) -> None:
        try:
            while True:
                self._one_request()
        except (Closed, OSError):
            pass
        finally:
            for fd, _ in self.uploads.values():
                os.close(fd)
            self.sock.close()

    def _head(self) -> tuple[str, str, dict[str, str]]:
        request_line, headers, self.pending = read_head(self.sock, self.pending)
        method, target, _ = request_line.split(" ", 2)
        return method, target, headers

    def _one_request(self) -> None:
        method, target, headers = self._head()
        path = urlsplit(target).path
        length = int(headers.get("content-length", "0"))
        if method == "POST" and path.endswith("/blobs/uploads/") and length == 0:
            location = f"{path}{next(self.ids)}"
            fd = os.open(self.dir / location.rsplit("/", 1)[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self.uploads[location] = (fd, hashlib.sha256())
            self._answer(202, [("Location", location), ("Range", "0-0")])
            return
        upload = self.uploads.get(path)
        if upload is None:
            self._drain(length)
            self._answer(200 if method in ("GET", "HEAD") else 202, [])
            return
        fd, hasher = upload
        self._receive(fd, hasher, length)
        if method != "PUT":
            self._answer(202, [("Location", path)])
            return
        os.fsync(fd)
        os.close(fd)
        del self.uploads[path]
        wanted = parse_qs(urlsplit(target).query).get("digest", [""])[0]
        ok = wanted == "sha256:" + hasher.hexdigest()
        self._answer(201 if ok else 400, [("Docker-Content-Digest", wanted)])
        os.unlink(self.dir / path.rsplit("/", 1)[1])  # after the answer: the disk is not the harness's to fill

    def _receive(self, fd: int, hasher: Any, length: int) -> None:
        """Fill the buffer from the socket, then hash and write it whole; until `length` bytes."""
        view = self.view
        remaining = length
        position = unflushed = os.lseek(fd, 0, os.SEEK_CUR)
        if self.pending:
            first = self.pending[:remaining]
            self.pending = self.pending[len(first) :]
            hasher.update(first)
            position += os.write(fd, first)
            remaining -= len(first)
        while remaining:
            filled = min(len(view), remaining)
            receive_into(self.sock, view, 0, filled)
            hasher.update(view[:filled])
            write_all(fd, view[:filled])
            remaining -= filled
            position += filled
            if position - unflushed >= WRITEBACK_BYTES:
                os.posix_fadvise(fd, unflushed, position - unflushed, os.POSIX_FADV_DONTNEED)
                unflushed = position

    def _drain(self, length: int) -> None:
        taken = min(length, len(self.pending))
        self.pending = self.pending[taken:]
        remaining = length - taken
        while remaining:
            got = self.sock.recv_into(self.view[: min(len(self.view), remaining)])
            if not got:
                raise Closed
            remaining -= got

    def _answer(self, status: int, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} X", "Content-Length: 0", *(f"{name}: {value}" for name, value in headers)]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def serve_connections(host: str, port: int, handler: Callable[[socket.socket], Callable[[], None]]) -> None:
    """Accept connections forever, each served on a thread of its own by what `handler` makes of it."""
    with socket.create_server((host, port), backlog=64) as listener:
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler(conn), daemon=True).start()


def serve_receiver(host: str, port: int, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ids = itertools.count(1)
    serve_connections(host, port, lambda conn: _Receiver(conn, directory, ids).run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("server", choices=["manifest", "receiver"])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--response", type=Path, help="manifest: the answers, from write_response")
    parser.add_argument("--dir", type=Path, help="receiver: where uploads are written")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if args.server == "manifest":
        if args.response is None:
            parser.error("manifest needs --response")
        os.environ[RESPONSE_ENV] = str(args.response.resolve())
        serve_manifest(host, int(port))
    else:
        if args.dir is None:
            parser.error("receiver needs --dir")
        serve_receiver(host, int(port), args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
