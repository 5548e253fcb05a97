"""Fixtures for the S3 tests: dockyard servers on a bucket of their own, and blob stores to drive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.server import DockyardServer

ServerFactory = Callable[..., DockyardServer]


@pytest.fixture
def s3_env(s3_bucket: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The environment of servers on one fresh bucket (all servers of a test share it)."""
    return s3_bucket()


@pytest.fixture
def s3_server(tmp_path: Path, s3_env: dict[str, str]) -> Iterator[ServerFactory]:
    """Starts dockyard processes on the test's bucket; by default each with its own data directory."""
    started: list[DockyardServer] = []

    def start(data_dir: Path | None = None, **env: str) -> DockyardServer:
        server = DockyardServer(data_dir or tmp_path / f"data-{len(started)}", env={**s3_env, **env})
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()
