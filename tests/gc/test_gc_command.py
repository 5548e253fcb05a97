"""`dockyard gc` against a running server's stores."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from tests.gc.conftest import FAST_GC, run_command, run_gc, stored_blobs
from tests.http.ocitest import RegistryClient, digest_of
from tests.support.backends import every_backend
from tests.support.server import DockyardServer
from tests.support.wait import wait_until


@every_backend
def test_gc_now_frees_a_deleted_image_and_keeps_a_tagged_one(idle_server: DockyardServer) -> None:
    with RegistryClient(idle_server.url) as client:
        kept = client.push_image("team/app", "stable", layers=2, seed="kept")
        dropped = client.push_image("team/app", "old", layers=2, seed="dropped")
        assert client.delete(f"/v2/team/app/manifests/{dropped.digest}").status_code == 202
        before = stored_blobs(idle_server)

        assert "freed 0 manifests, 0 blobs" in run_gc(idle_server)
        dry = run_gc(idle_server, "--now", "--dry-run")
        assert "would free 0 manifests, 3 blobs" in dry
        assert stored_blobs(idle_server) == before

        real = run_gc(idle_server, "--now")
        assert "team/app" in real
        assert "freed 0 manifests, 3 blobs" in real
        assert dry.splitlines()[1:-1] == real.splitlines()[1:-1]
        assert len(stored_blobs(idle_server)) == 3

        pulled = client.get_manifest("team/app", "stable")
        assert pulled.status_code == 200
        assert digest_of(pulled.content) == kept.digest
        assert client.get_manifest("team/app", dropped.digest).status_code == 404


@every_backend
def test_gc_now_collects_an_untagged_image_and_its_layers(idle_server: DockyardServer) -> None:
    with RegistryClient(idle_server.url) as client:
        client.push_image("team/app", "moving", layers=1, seed="first")
        client.push_image("team/app", "moving", layers=1, seed="second")
        output = run_gc(idle_server, "--now")
        assert "freed 1 manifests, 2 blobs" in output
        assert client.get_manifest("team/app", "moving").status_code == 200


def test_workers_collect_on_their_own_and_report_it_in_metrics(tmp_path: Path) -> None:
    with DockyardServer(tmp_path / "data", env=FAST_GC) as server, RegistryClient(server.url) as client:
        dropped = client.push_image("team/app", None, layers=2, seed="dropped")
        assert client.delete(f"/v2/team/app/manifests/{dropped.digest}").status_code == 202
        wait_until(lambda: not stored_blobs(server), 60, lambda: f"the workers left {stored_blobs(server)}")
        metrics = httpx.get(server.url + "/metrics").text
        assert 'dockyard_gc_deleted_total{kind="blob"} 3.0' in metrics
        assert "dockyard_gc_bytes_freed_total" in metrics
        assert 'dockyard_gc_queue_depth{kind="deletion"}' in metrics


@pytest.mark.parametrize("backend", ["sqlite-fs", "pg-fs"])  # S3 objects cannot be backdated
def test_orphaned_bytes_older_than_the_delay_are_swept(idle_server: DockyardServer) -> None:
    """Bytes renamed into place by an upload killed before its link committed have no metadata row."""
    old, young = b"orphan of a crash two days ago", b"orphan of a crash just now"
    for data in (old, young):
        encoded = digest_of(data).split(":")[1]
        path = idle_server.data_dir / "blobs" / "sha256" / encoded[:2] / encoded
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    two_days_ago = time.time() - 2 * 86400
    os.utime(idle_server.data_dir / "blobs" / "sha256" / digest_of(old)[7:9] / digest_of(old)[7:], (two_days_ago,) * 2)
    with RegistryClient(idle_server.url) as client:
        kept = client.push_image("team/app", "stable", seed="kept")
        assert "freed 0 manifests, 1 blobs" in run_gc(idle_server)
        assert stored_blobs(idle_server) == {digest_of(young), *_blobs_of(client, "team/app", kept.digest)}


def _blobs_of(client: RegistryClient, repository: str, digest: str) -> set[str]:
    document = client.get_manifest(repository, digest).json()
    return {blob["digest"] for blob in [document["config"], *document["layers"]]}


def test_gc_deletes_nothing_in_read_only_mode(idle_server: DockyardServer) -> None:
    with RegistryClient(idle_server.url) as client:
        dropped = client.push_image("team/app", None, seed="dropped")
        assert client.delete(f"/v2/team/app/manifests/{dropped.digest}").status_code == 202
    assert run_command(idle_server, "admin read-only", "on").returncode == 0
    refused = run_command(idle_server, "gc", "--now")
    assert refused.returncode == 1
    assert "read-only" in refused.stdout
    assert len(stored_blobs(idle_server)) == 2
    assert run_command(idle_server, "admin read-only", "off").returncode == 0
    assert "freed 0 manifests, 2 blobs" in run_gc(idle_server, "--now")
