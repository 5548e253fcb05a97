"""A read-only filesystem under the data directory: dockyard says so at start, pulls go on, writes
answer 503 with the spec's error body, /readyz names the store, and once the filesystem takes writes
again pushes work without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.procs import free_port
from tests.faults.disks import FailingDisk, SmallDisk, failing_disk_unavailable, mount_unavailable
from tests.http.ocitest import Pushed, RegistryClient, assert_error
from tests.support.backends import backend_env
from tests.support.server import DockyardServer

REPO = "faults/read-only"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if mount_unavailable():
        pytest.skip(str(mount_unavailable()))
    with SmallDisk(tmp_path / "disk", 32 << 20) as small:
        yield small


def assert_read_only(response: httpx.Response) -> None:
    assert_error(response, 503, "UNAVAILABLE")
    assert "read-only" in response.json()["errors"][0]["message"]


def assert_pulls_work(client: RegistryClient, image: Pushed) -> None:
    pulled = client.get_manifest(REPO, "v1")
    assert (pulled.status_code, pulled.content) == (200, image.body)
    for layer in json.loads(image.body)["layers"]:
        assert client.get_blob(REPO, layer["digest"]).status_code == 200


def test_blobs_on_a_read_only_disk(request: pytest.FixtureRequest, disk: SmallDisk, tmp_path: Path) -> None:
    """PostgreSQL metadata, filesystem blobs: read-only at start, writable again, read-only again."""
    server = DockyardServer(disk.path / "data", env=backend_env(request, "pg-fs"))
    server.log_path = tmp_path / "server.log"
    with server, RegistryClient(server.url) as client:
        image = client.push_image(REPO, "v1")
    disk.read_only(True)
    with server, RegistryClient(server.url) as client:
        assert "is on a read-only filesystem: pulls are served" in server.log()
        assert_pulls_work(client, image)
        assert_read_only(client.push_blob_monolithic(REPO, b"refused while read-only"))
        assert_read_only(client.start_upload(REPO))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "ReadOnlyStorage" in ready.json()["failing"]["blob store"]

        disk.read_only(False)
        assert client.get("/readyz").status_code == 200
        client.push_image(REPO, "v2", seed="writable again")

        disk.read_only(True)  # no file is open for writing between requests: the remount is allowed
        assert_read_only(client.push_blob_monolithic(REPO, b"refused again"))
        assert_pulls_work(client, image)
        disk.read_only(False)
        assert client.push_blob_monolithic(REPO, b"taken again").status_code == 201
    assert "Traceback" not in server.log()


def test_sqlite_on_a_read_only_disk_says_so_at_start(disk: SmallDisk, tmp_path: Path) -> None:
    """SQLite cannot open a database in WAL mode without writing beside it: dockyard names the
    reason in one line instead of a traceback."""
    server = DockyardServer(disk.path / "data")
    server.log_path = tmp_path / "server.log"
    with server, RegistryClient(server.url) as client:
        client.push_image(REPO, "v1")
    disk.read_only(True)
    command = [
        sys.executable,
        "-m",
        "dockyard",
        "serve",
        "--data-dir",
        str(server.data_dir),
        "--listen",
        f"127.0.0.1:{free_port()}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dockyard: cannot use SQLite at "), done.stderr
    assert "is on a read-only filesystem" in last


@pytest.fixture
def failing_disk(tmp_path: Path) -> Iterator[FailingDisk]:
    if failing_disk_unavailable():
        pytest.skip(str(failing_disk_unavailable()))
    with FailingDisk(tmp_path / "ext4", 64 << 20) as failing:
        yield failing


def test_sqlite_under_a_disk_that_turns_read_only(failing_disk: FailingDisk, tmp_path: Path) -> None:
    """ext4 remounts itself read-only after an error, with SQLite's files open: SQLite calls that an
    I/O error, which dockyard tells apart as a read-only disk."""
    server = DockyardServer(failing_disk.path / "data")
    server.log_path = tmp_path / "server.log"
    with server, RegistryClient(server.url) as client:
        image = client.push_image(REPO, "v1")
        failing_disk.fail()
        assert_read_only(client.put_manifest(REPO, "v2", image.body))
        assert_read_only(client.push_blob_monolithic(REPO, b"refused"))
        assert_pulls_work(client, image)
        failing = client.get("/readyz").json()["failing"]
        assert set(failing) == {"blob store", "metadata store"}
        assert all("ReadOnlyStorage" in reason for reason in failing.values())
    assert "Traceback" not in server.log()
