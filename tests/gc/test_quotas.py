"""Quotas: a push over a repository's quota is refused, before its bytes are stored when its size is known."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.gc.conftest import stored_blobs
from tests.http.ocitest import RegistryClient, assert_error, digest_of
from tests.support.server import DockyardServer

QUOTAS = json.dumps([{"repository": "small/*", "max_bytes": 1000}])


@pytest.fixture
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    server = DockyardServer(tmp_path_factory.mktemp("quota") / "data", env={"DOCKYARD_QUOTAS": QUOTAS})
    with server:
        yield server


def _uploaded_bytes(server: DockyardServer) -> int:
    return sum(path.stat().st_size for path in (server.data_dir / "uploads").iterdir())


def test_a_monolithic_push_over_quota_is_refused_before_bytes_are_stored(quota_server: DockyardServer) -> None:
    with RegistryClient(quota_server.url) as client:
        response = client.push_blob_monolithic("small/app", b"x" * 2000)
        assert_error(response, 403, "DENIED")
        assert "quota exceeded" in response.json()["errors"][0]["message"]
        assert stored_blobs(quota_server) == set()
        assert _uploaded_bytes(quota_server) == 0
        # Elsewhere there is no quota.
        assert client.push_blob_monolithic("large/app", b"x" * 2000).status_code == 201


def test_a_blob_already_linked_counts_once(quota_server: DockyardServer) -> None:
    with RegistryClient(quota_server.url) as client:
        client.push_blob("small/dedup", b"a" * 600)
        client.push_blob("small/dedup", b"a" * 600)
        response = client.finish(client.open_session("small/dedup"), digest_of(b"b" * 600), b"b" * 600)
        assert_error(response, 403, "DENIED")


def test_a_streamed_push_over_quota_is_refused_at_completion(quota_server: DockyardServer) -> None:
    data = b"s" * 1500

    def streamed() -> Iterator[bytes]:
        yield data[:700]
        yield data[700:]

    with RegistryClient(quota_server.url) as client:
        location = client.open_session("small/stream")
        patched = client.http.patch(location, content=streamed(), headers={"Content-Type": "application/octet-stream"})
        assert patched.status_code == 202, patched.text
        response = client.http.put(patched.headers["location"], params={"digest": digest_of(data)})
        assert_error(response, 403, "DENIED")
        assert client.head(f"/v2/small/stream/blobs/{digest_of(data)}").status_code == 404


def test_a_mount_over_quota_is_refused(quota_server: DockyardServer) -> None:
    data = b"m" * 800
    with RegistryClient(quota_server.url) as client:
        client.push_blob("large/source", data)
        client.push_blob("small/mounted", b"n" * 300)
        response = client.http.post(
            "/v2/small/mounted/blobs/uploads/", params={"mount": digest_of(data), "from": "large/source"}
        )
        assert_error(response, 403, "DENIED")
        assert client.head(f"/v2/small/mounted/blobs/{digest_of(data)}").status_code == 404
