"""Fixtures for several dockyard instances sharing one metadata store and one blob store, as
behind a load balancer: the same backend environment (one database, one bucket) and, unless the
backend is PostgreSQL + S3, the same data directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.backends import backend_env
from tests.support.server import DockyardServer

Instances = Callable[..., list[DockyardServer]]


@pytest.fixture
def instances(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Instances]:
    """`instances(count, **env)` starts `count` servers on one shared backend; all are killed at the end."""
    started: list[DockyardServer] = []
    shared_env = backend_env(request, backend)

    def data_dir(number: int) -> Path:
        # PostgreSQL + S3 instances share nothing but the database and the bucket, as on separate
        # machines; the others keep their metadata or blobs in the one directory they share.
        return tmp_path / f"data-{number}" if backend == "pg-s3" else tmp_path / "data"

    def start(count: int, **env: str) -> list[DockyardServer]:
        servers = [DockyardServer(data_dir(len(started) + n), env={**shared_env, **env}) for n in range(count)]
        for server in servers:
            started.append(server.start())
        return servers

    try:
        yield start
    finally:
        for server in started:
            server.kill()
