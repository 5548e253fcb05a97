"""The floor of a cache miss: what passing a blob through, hashing and storing it, costs with no
registry in it at all.

A raw HTTP/1.1 socket server. A GET of `/v2/<prefix>/<repository>/blobs/<digest>` opens a connection
to the upstream, asks it for `/v2/<repository>/blobs/<digest>` and answers with the upstream's
length; then, through one preallocated buffer, it receives each piece, hashes it with sha256, writes
it to a file on the same disk and sends it to the client, in turn on one thread. The digest is
checked before the last piece is sent, as dockyard holds a miss's last byte until it has verified
the blob; the file is fsynced and removed after the answer. No routing, no metadata, no event loop.

    python -m bench.miss_floor --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT --prefix hub --dir DIR
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import socket
import sys
from pathlib import Path

from bench.floor import Closed, read_head, receive_into, serve_connections, write_all

BUFFER_BYTES = 1 << 20


class _Passage:
    """One client connection, one blob at a time."""

    def __init__(self, client: socket.socket, upstream: tuple[str, int], prefix: str, path: Path):
        self.client = client
        self.upstream = upstream
        self.prefix = f"/v2/{prefix}/"
        self.path = path
        self.view = memoryview(bytearray(BUFFER_BYTES))

    def run(self) -> None:
        try:
            while True:
                request_line, _, _ = read_head(self.client)
                target = request_line.split(" ")[1]
                if "/blobs/" in target:
                    self._pass(target)
                else:  # the harness asking whether the server is up
                    self.client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (Closed, OSError):
            pass
        finally:
            self.client.close()

    def _pass(self, target: str) -> None:
        upstream_path = "/v2/" + target.removeprefix(self.prefix)
        expected = "sha256:" + target.rsplit("/", 1)[1].removeprefix("sha256:")
        with socket.create_connection(self.upstream) as source:
            source.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            source.sendall(f"GET {upstream_path} HTTP/1.1\r\nHost: upstream\r\n\r\n".encode("latin-1"))
            status, headers, early = read_head(source)
            assert status.split(" ")[1] == "200", status
            length = int(headers["content-length"])
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
            self.client.sendall(head.encode("latin-1"))
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                self._relay(source, fd, early, length, expected)
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(self.path)

    def _relay(self, source: socket.socket, fd: int, early: bytes, length: int, expected: str) -> None:
        hasher = hashlib.sha256()
        view, remaining = self.view, length
        self.view[: len(early)] = early
        filled = len(early)
        while remaining:
            room = min(len(view), remaining)
            receive_into(source, view, filled, room)
            filled = room
            hasher.update(view[:filled])
            write_all(fd, view[:filled])
            remaining -= filled
            if not remaining and "sha256:" + hasher.hexdigest() != expected:
                raise Closed  # never the last byte of a blob that failed its check
            self.client.sendall(view[:filled])
            filled = 0


def serve(host: str, port: int, upstream: tuple[str, int], prefix: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ids = itertools.count(1)
    serve_connections(host, port, lambda conn: _Passage(conn, upstream, prefix, directory / str(next(ids))).run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.miss_floor", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the upstream registry")
    parser.add_argument("--prefix", required=True, help="the path prefix the client asks under")
    parser.add_argument("--dir", type=Path, required=True, help="where blobs are written")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    upstream_host, _, upstream_port = args.upstream.rpartition(":")
    serve(host, int(port), (upstream_host, int(upstream_port)), args.prefix, args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
