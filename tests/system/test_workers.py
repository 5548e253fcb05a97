"""Several worker processes share one data directory: an upload session continues on whichever
worker receives the next chunk (re-hashing what it has not seen), metrics add up across workers,
and SIGTERM lets a request in flight finish."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.http.ocitest import OCI_MANIFEST, RegistryClient, digest_of
from tests.support.metrics import metric
from tests.support.server import DockyardServer
from tests.support.wait import wait_until
from tests.system.test_crash import StalledBody

pytestmark = pytest.mark.slow


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[DockyardServer]:
    server = DockyardServer(tmp_path / "data", extra_args=["--workers", "2"]).start()
    try:
        yield server
    finally:
        server.stop()


def fresh_connection_patch(url: str, location: str, chunk: bytes, start: int) -> httpx.Response:
    """One chunk on a new connection, so that the kernel may hand it to either worker."""
    headers = {"Content-Range": f"{start}-{start + len(chunk) - 1}", "Content-Type": "application/octet-stream"}
    with httpx.Client(base_url=url) as http:
        return http.patch(location, content=chunk, headers=headers)


def test_chunked_uploads_continue_across_workers(two_workers: DockyardServer) -> None:
    assert len(two_workers.pids()) >= 3  # the supervisor and two workers
    client = RegistryClient(two_workers.url)
    for round_number in range(12):
        data = os.urandom(300_000 + round_number)
        location = client.open_session("workers/chunked")
        for start in range(0, len(data), 100_000):
            response = fresh_connection_patch(two_workers.url, location, data[start : start + 100_000], start)
            assert response.status_code == 202, response.text
            location = response.headers["location"]
        digest = digest_of(data)
        assert client.finish(location, digest).status_code == 201
        assert client.get_blob("workers/chunked", digest).content == data


def test_metrics_add_up_over_all_workers(two_workers: DockyardServer) -> None:
    # A route nothing else asks for: each worker adds its tallies to the shared series about once
    # a second, so a count taken before the requests could still grow by earlier ones.
    def answered() -> float:
        return metric(two_workers.url, "dockyard_http_requests_total", method="GET", route="catalog")

    for _ in range(40):
        with httpx.Client(base_url=two_workers.url) as http:
            assert http.get("/v2/_catalog").status_code == 200
    wait_until(lambda: answered() >= 40, 20, "the requests never all showed on /metrics")
    assert answered() == 40


def _refuses_connections(url: str) -> bool:
    try:
        httpx.get(url + "/v2/", timeout=5)
    except httpx.ConnectError:
        return True
    return False


def test_sigterm_lets_an_upload_in_flight_finish(fresh_server: DockyardServer) -> None:
    fresh_server.start()
    client = RegistryClient(fresh_server.url)
    location = client.open_session("workers/graceful")
    data = os.urandom(1 << 20)
    body = StalledBody(data[: len(data) // 2], data[len(data) // 2 :])
    outcome: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: outcome.append(client.patch(location, body)))
    sender.start()
    assert body.sent.wait(10)
    wait_until(lambda: fresh_server.unread_bytes() == 0, 30, "the server never read the first half")
    assert fresh_server.proc is not None
    fresh_server.proc.send_signal(signal.SIGTERM)
    # The rest goes once the server has begun to shut down (it accepts no more connections).
    wait_until(lambda: _refuses_connections(fresh_server.url), 30, "the server kept accepting connections")
    body.release.set()
    sender.join(30)
    assert outcome, "the PATCH in flight got no answer"
    assert outcome[0].status_code == 202
    assert outcome[0].headers["range"] == f"0-{len(data) - 1}"
    assert fresh_server.proc.wait(30) == 0

    # The session survives the restart, and completing it re-hashes the stored bytes.
    fresh_server.start()
    client = RegistryClient(fresh_server.url)
    assert client.finish(location, digest_of(data)).status_code == 201
    assert client.get_blob("workers/graceful", digest_of(data)).content == data


def test_a_tag_moved_by_one_worker_is_seen_at_once_by_the_other(two_workers: DockyardServer) -> None:
    """Workers answer manifest lookups from memory; a push through either must invalidate both."""
    client = RegistryClient(two_workers.url)
    base = client.push_image("workers/moving", "base")
    for round_number in range(30):
        body = base.body.replace(b'"schemaVersion": 2', f'"schemaVersion": 2, "n": {round_number}'.encode(), 1)
        with httpx.Client(base_url=two_workers.url) as pusher:
            pushed = pusher.put(
                "/v2/workers/moving/manifests/moving", content=body, headers={"Content-Type": OCI_MANIFEST}
            )
            assert pushed.status_code == 201, pushed.text
        for _ in range(2):  # new connections: both workers get asked
            with httpx.Client(base_url=two_workers.url) as reader:
                assert reader.get("/v2/workers/moving/manifests/moving").content == body
        with httpx.Client(base_url=two_workers.url) as deleter:
            assert deleter.delete(f"/v2/workers/moving/manifests/{digest_of(body)}").status_code == 202
        with httpx.Client(base_url=two_workers.url) as reader:
            assert reader.head("/v2/workers/moving/manifests/moving").status_code == 404
