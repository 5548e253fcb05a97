"""A full disk under the data directory: pushes fail with 507 and the spec's error body, the upload
session keeps exactly what it stored, reads go on, /readyz names the full store, the access log loses
lines but never mixes them, and pushes work again as soon as there is room, without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.faults.disks import SmallDisk, mount_unavailable
from tests.http.ocitest import RegistryClient, assert_error, digest_of, upload_end
from tests.support.backends import backend_env, stored_uploads
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(mount_unavailable() is not None, reason=str(mount_unavailable()))

REPO = "faults/full"
MIB = 1 << 20
DISK_BYTES = 32 * MIB
ROOM_LEFT = 6 * MIB  # what the filler leaves: less than the blob the test pushes
BLOB = bytes(range(256)) * (12 * MIB // 256)  # larger than the room left


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with SmallDisk(tmp_path / "disk", DISK_BYTES) as small:
        yield small


def server_on(disk: SmallDisk, env: dict[str, str], log: Path) -> DockyardServer:
    server = DockyardServer(
        disk.path / "data",
        env={**env, "DOCKYARD_LOG_FORMAT": "json", "DOCKYARD_ACCESS_LOG_FILE": str(disk.path / "access.log")},
    )
    server.log_path = log  # off the small disk: the test reads it after the disk was full
    return server


def assert_out_of_space(response: httpx.Response) -> None:
    assert_error(response, 507, "UNAVAILABLE")
    assert "out of storage space" in response.json()["errors"][0]["message"]


def readiness(client: RegistryClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


@pytest.mark.parametrize("backend", ["sqlite-fs", "pg-fs"])
def test_a_full_disk_refuses_writes_cleanly_and_recovers(
    request: pytest.FixtureRequest, backend: str, disk: SmallDisk, tmp_path: Path
) -> None:
    server = server_on(disk, backend_env(request, backend), tmp_path / "server.log").start()
    sqlite = backend == "sqlite-fs"
    try:
        with RegistryClient(server.url) as client:
            image = client.push_image(REPO, "v1")
            location = client.open_session(REPO)
            disk.fill(leave=ROOM_LEFT)

            # A chunk larger than the room: 507, and the session keeps the prefix it stored.
            refused = client.patch(location, BLOB)
            assert_out_of_space(refused)
            assert refused.headers["connection"] == "close"  # its body was left unread: no reuse
            status = client.upload_status(location)
            assert status.status_code == 204, status.text
            stored = upload_end(status) + 1
            assert 0 < stored < len(BLOB)

            # A monolithic push fails the same way and leaves no session behind.
            assert_out_of_space(client.push_blob_monolithic(REPO, BLOB[::-1]))
            assert stored_uploads(server.data_dir, server.env) == {location.rsplit("/", 1)[1]}

            ready, body = readiness(client)
            assert ready == 503
            expected = {"blob store", "metadata store"} if sqlite else {"blob store"}
            assert set(body["failing"]) == expected, body
            assert all("OutOfSpace" in reason for reason in body["failing"].values()), body

            # A manifest written to SQLite on the full disk; a large one spills SQLite's cache
            # before its commit, where SQLite rolls the transaction back itself.
            second = client.put_manifest(REPO, "v2", image.body)
            manifest = json.loads(image.body)
            manifest["annotations"] = {"padding": "x" * (3 * MIB)}
            large = client.put_manifest(REPO, "large", json.dumps(manifest).encode())
            if sqlite:
                assert_out_of_space(second)
                assert_out_of_space(large)
            else:
                assert second.status_code == large.status_code == 201

            # Reads go on: manifests, blobs, listings.
            for _ in range(40):  # enough access log lines to reach past the room its file had
                pulled = client.get_manifest(REPO, "v1")
                assert (pulled.status_code, pulled.content) == (200, image.body)
            wait_until(lambda: "writing log lines failed" in server.log(), 30, "the access log never hit the full disk")
            config = json.loads(image.body)["config"]["digest"]
            assert client.get_blob(REPO, config).status_code == 200
            assert client.tags(REPO).json()["tags"] == (["v1"] if sqlite else ["large", "v1", "v2"])

            disk.free()
            assert readiness(client) == (200, {"status": "ready"})
            client.get("/v2/", headers={"X-Request-Id": "after-the-disk-was-freed"})
            rest = client.patch(location, BLOB[stored:], f"{stored}-{len(BLOB) - 1}", len(BLOB) - stored)
            assert rest.status_code == 202, rest.text
            done = client.finish(rest.headers["location"], digest_of(BLOB))
            assert done.status_code == 201, done.text
            assert client.get_blob(REPO, digest_of(BLOB)).content == BLOB
            assert client.put_manifest(REPO, "v2", image.body).status_code == 201
            last = client.push_image(REPO, "after", seed="once there is room")
            assert client.get_manifest(REPO, "after").content == last.body
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "writing log lines works again" in log
    # Lines were lost while the disk was full, and the one the disk filled in the middle of was cut
    # short; but that one ends there, and no line runs into another.
    lines = (disk.path / "access.log").read_text().splitlines()
    assert all(line.count('{"time":') == 1 for line in lines), [line for line in lines if line.count("time") > 1]
    assert len([line for line in lines if not parses(line)]) <= 1
    assert any(parses(line) and json.loads(line)["request_id"] == "after-the-disk-was-freed" for line in lines)


def parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


GENERATION_ON_A_FULL_DISK = """
import os
import sys
from pathlib import Path
from dockyard.meta.generation import Generation
disk = Path(sys.argv[1])
generation = Generation(disk / "token")
filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(filler, bytes(1 << 16))
except OSError:
    pass
generation.advance()
print(generation.current())
"""


def test_the_change_token_survives_a_disk_that_filled_after_it_was_made(disk: SmallDisk) -> None:
    """The token's page is allocated when it is made: a first store into a sparse page of a full
    tmpfs would kill the process with SIGBUS."""
    done = subprocess.run(
        [sys.executable, "-c", GENERATION_ON_A_FULL_DISK, str(disk.path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
