"""Manifest size: refused with 413 and the spec's error body before the body is held in memory, both
when Content-Length declares too much and when a chunked body runs past the limit."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from urllib.parse import urlsplit

from tests.conftest import Registry

LIMIT = 4 << 20  # limits.manifest_max_bytes of the session's servers (the default)
_CHUNK = 64 << 10


def _connect(registry: Registry, repo: str, framing: bytes) -> socket.socket:
    parts = urlsplit(registry.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(
        f"PUT /v2/{repo}/manifests/too-big HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode()
        + b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
        + framing
        + b"\r\n"
    )
    return sock


def _refusal(sock: socket.socket) -> dict[str, object]:
    response = http.client.HTTPResponse(sock, method="PUT")
    response.begin()
    assert response.status == 413
    assert response.getheader("content-type") == "application/json"
    body: dict[str, object] = json.loads(response.read(response.length or 4096))
    return body


def _code(body: dict[str, object]) -> str:
    errors = body["errors"]
    assert isinstance(errors, list)
    return str(errors[0]["code"])


def test_a_declared_oversized_manifest_is_refused_before_its_body(registry: Registry, repo: str) -> None:
    # Not one byte of the body is sent: an answer at all shows the server did not wait for it.
    with _connect(registry, repo, f"Content-Length: {100 << 20}\r\n".encode()) as sock:
        assert _code(_refusal(sock)) == "SIZE_INVALID"


def test_a_chunked_oversized_manifest_is_cut_off_at_the_limit(registry: Registry, repo: str) -> None:
    total = 16 * LIMIT
    sent = 0

    def send(sock: socket.socket) -> None:
        nonlocal sent
        frame = f"{_CHUNK:x}\r\n".encode() + b"x" * _CHUNK + b"\r\n"
        try:
            while sent < total:
                sock.sendall(frame)
                sent += _CHUNK
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            return  # the server closed the connection after its answer: it reads no more

    with _connect(registry, repo, b"Transfer-Encoding: chunked\r\n") as sock:
        sender = threading.Thread(target=send, args=(sock,), daemon=True)
        sender.start()
        assert _code(_refusal(sock)) == "SIZE_INVALID"
        sender.join(30)
    assert not sender.is_alive()
    # Past the limit, only what the kernel's socket buffers hold went out before the refusal.
    assert sent < total
