"""Limits that hold against idle, slow and oversized clients: connections that never send a byte,
headers too many or too large, request bodies that stall or drip."""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from tests.http.ocitest import assert_error
from tests.support.server import DockyardServer

MAX_CONNECTIONS = 16
MAX_HEADERS = 20
MAX_HEADER_BYTES = 4096


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    env = {
        "DOCKYARD_HTTP__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "DOCKYARD_HTTP__HEADER_TIMEOUT_SECONDS": "1",
        "DOCKYARD_HTTP__MAX_HEADERS": str(MAX_HEADERS),
        "DOCKYARD_HTTP__MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "DOCKYARD_HTTP__BODY_IDLE_TIMEOUT_SECONDS": "1",
        "DOCKYARD_HTTP__BODY_TIMEOUT_SECONDS": "3",
    }
    with DockyardServer(tmp_path_factory.mktemp("limits") / "data", env=env) as server:
        yield server


def connect(server: DockyardServer) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    connection.settimeout(30)
    return connection


def closed_by_server(connection: socket.socket) -> bool:
    with contextlib.suppress(ConnectionResetError):
        return connection.recv(1) == b""
    return True


def test_idle_connections_are_closed_and_new_clients_served(limited: DockyardServer) -> None:
    # More connections than the worker takes: the rest wait in the kernel's queue, and all stay silent.
    idle = [connect(limited) for _ in range(MAX_CONNECTIONS + 4)]
    try:
        assert httpx.get(f"{limited.url}/v2/", timeout=30).status_code == 200
        assert all(closed_by_server(connection) for connection in idle)
    finally:
        for connection in idle:
            connection.close()


def test_a_request_with_too_many_header_fields_is_431(limited: DockyardServer) -> None:
    headers = {f"x-extra-{number}": "1" for number in range(MAX_HEADERS + 1)}
    assert_error(httpx.get(f"{limited.url}/v2/", headers=headers), 431, "UNSUPPORTED")


def test_a_request_with_too_large_headers_is_431(limited: DockyardServer) -> None:
    response = httpx.get(f"{limited.url}/v2/", headers={"user-agent": "x" * MAX_HEADER_BYTES})
    assert_error(response, 431, "UNSUPPORTED")
    assert httpx.get(f"{limited.url}/v2/", headers={"user-agent": "x" * 1000}).status_code == 200


def test_beyond_what_the_http_server_reads_headers_are_431_without_a_body(limited: DockyardServer) -> None:
    headers = {f"x-extra-{number}": "1" for number in range(101)}
    assert httpx.get(f"{limited.url}/v2/", headers=headers).status_code == 431


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    received = b""
    while b"\r\n\r\n" not in received or not received.endswith(b"}]}"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def start_patch(server: DockyardServer, repository: str, declared: int) -> socket.socket:
    location = httpx.post(f"{server.url}/v2/{repository}/blobs/uploads/").headers["location"]
    target = urlsplit(location)
    path = target.path + (f"?{target.query}" if target.query else "")
    connection = connect(server)
    connection.sendall(
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode()
    )
    return connection


def test_a_stalled_body_is_answered_408(limited: DockyardServer) -> None:
    with contextlib.closing(start_patch(limited, "limits/stalled", 1000)) as connection:
        connection.sendall(b"x" * 10)
        status, body = read_response(connection)
    assert status == 408
    assert b'"code":"BLOB_UPLOAD_INVALID"' in body
    assert b"stalled" in body


def test_a_dripping_body_is_answered_408_when_its_time_is_up(limited: DockyardServer) -> None:
    with contextlib.closing(start_patch(limited, "limits/dripping", 1000)) as connection:
        for _ in range(200):  # a byte every 0.1 s, never idle for the idle timeout: only the total ends it
            readable, _, _ = select.select([connection], [], [], 0.1)
            if readable:
                break
            connection.sendall(b"x")
        status, body = read_response(connection)
    assert status == 408
    assert b"took longer than 3s" in body
