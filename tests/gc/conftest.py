"""Fixtures for GC tests: servers with fast review workers, and `dockyard gc` run as operators run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.backends import backend_env
from tests.support.backends import stored_blobs as blobs_in_store
from tests.support.server import DockyardServer, all_running

FAST_GC = {"DOCKYARD_GC__REVIEW_DELAY_SECONDS": "0.5", "DOCKYARD_GC__IDLE_SECONDS": "0.1"}
# An image push into S3 takes a second or more on a busy machine: with a delay shorter than that,
# the first blobs of a push are rightly collected before its manifest arrives, on every retry.
S3_REVIEW_DELAY = {"DOCKYARD_GC__REVIEW_DELAY_SECONDS": "3"}
INSTANCES = 3


def run_command(server: DockyardServer, command: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """A maintenance command (`admin read-only` has two words) on the stores of `server`."""
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *command.split(), "--data-dir", str(server.data_dir), *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **server.env},
        check=False,
    )


def run_gc(server: DockyardServer, *flags: str) -> str:
    """`dockyard gc`, which must succeed; its output."""
    result = run_command(server, "gc", *flags)
    assert result.returncode == 0, result.stderr
    return result.stdout


def stored_blobs(server: DockyardServer) -> set[str]:
    """The digests `server`'s blob store holds (a bucket or data_dir/blobs, by its backend)."""
    return blobs_in_store(server.data_dir, server.env)


@pytest.fixture
def storage_env(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    """The environment pointing servers at fresh stores of the test's backend."""
    return backend_env(request, backend)


@pytest.fixture
def idle_server(tmp_path: Path, storage_env: dict[str, str]) -> Iterator[DockyardServer]:
    """A server whose workers never find anything due: collection happens only by `dockyard gc`."""
    server = DockyardServer(tmp_path / "data", env=storage_env).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def gc_cluster(tmp_path: Path, storage_env: dict[str, str]) -> Iterator[list[DockyardServer]]:
    """Instances sharing one set of stores, whose workers review everything half a second after it happened."""
    on_s3 = "DOCKYARD_STORAGE__S3__BUCKET" in storage_env
    env = {**storage_env, **FAST_GC, **(S3_REVIEW_DELAY if on_s3 else {})}
    servers = [DockyardServer(tmp_path / "data", env=env) for _ in range(INSTANCES)]
    for number, server in enumerate(servers):
        server.log_path = tmp_path / f"instance-{number}.log"
    with all_running(servers):
        yield servers
