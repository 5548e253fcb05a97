"""The fault proxy in front of real registries: dockyard, and Debian's docker-registry (Distribution 2.8.2)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.procs import start_distribution
from tests.faults.observe import received
from tests.http.ocitest import RegistryClient
from tests.support.faultproxy import CutBody, FaultProxy, Stall, too_many_requests
from tests.support.server import DockyardServer

REPO = "faults/proxied"
BLOBS = "/v2/*/blobs/*"


@pytest.fixture(params=["dockyard", "distribution"])
def upstream(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "dockyard":
        server: DockyardServer = request.getfixturevalue("fresh_server")
        yield server.start().url
        return
    registry = start_distribution("upstream", tmp_path / "distribution")
    try:
        yield registry.url
    finally:
        registry.stop()


def test_push_and_pull_pass_through_byte_exact(upstream: str) -> None:
    blob = os.urandom(3 << 20)
    with FaultProxy(upstream) as proxy, RegistryClient(proxy.url, timeout=30) as client:
        digest = client.push_blob(REPO, blob)
        image = client.push_image(REPO, "v1")
        pulled = client.get_blob(REPO, digest)
        manifest = client.get_manifest(REPO, image.digest)
        assert (pulled.status_code, pulled.content) == (200, blob)
        assert (manifest.status_code, manifest.content) == (200, image.body)
        assert manifest.headers["docker-content-digest"] == image.digest
        assert proxy.count("POST", "/v2/*/blobs/uploads/") == 3  # the blob, the image's config and layer
        assert proxy.count("PUT", "/v2/*/blobs/uploads/*") == 3
        assert proxy.count("PUT", "/v2/*/manifests/*") == 1
        [blob_get] = proxy.exchanges("GET", BLOBS)
        assert (blob_get.status, blob_get.body_bytes) == (200, len(blob))


def test_faults_in_front_of_dockyard(fresh_server: DockyardServer) -> None:
    blob = os.urandom(2 << 20)
    with FaultProxy(fresh_server.start().url) as proxy, RegistryClient(proxy.url, timeout=10) as client:
        digest = client.push_blob(REPO, blob)
        path = client.blob_url(REPO, digest)
        proxy.add("GET", BLOBS, too_many_requests(retry_after=3), times=1)
        proxy.add("GET", BLOBS, CutBody(after_bytes=1 << 20), times=1)
        stall = proxy.add("GET", BLOBS, Stall(), times=1)

        refused = client.get(path)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "3")
        body, error = received(client.http, path)
        assert isinstance(error, httpx.ReadError)
        assert body == blob[: 1 << 20]
        with pytest.raises(httpx.ReadTimeout):
            client.get(path, timeout=httpx.Timeout(10, read=0.3))
        stall.release()
        assert client.get(path).content == blob
        assert [status for _, _, status in proxy.log[-4:]] == [429, 200, 200, 200]
        assert proxy.count("GET", BLOBS) == 4


def test_upstream_restarted_on_another_port(fresh_server: DockyardServer) -> None:
    blob = os.urandom(100_000)
    first = fresh_server.start()
    with FaultProxy(first.url) as proxy, RegistryClient(proxy.url, timeout=10) as client:
        digest = client.push_blob(REPO, blob)
        first.stop()
        gone = client.get_blob(REPO, digest)
        assert gone.status_code == 502  # the proxy cannot reach it, and says so
        with DockyardServer(first.data_dir, env=first.env) as second:
            assert second.port != first.port
            proxy.set_target(second.url)
            assert client.get_blob(REPO, digest).content == blob
        assert [status for method, _, status in proxy.log if method == "GET"] == [502, 200]
