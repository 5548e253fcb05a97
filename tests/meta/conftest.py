"""Fixtures for several dockyard instances sharing one metadata store and one blob store, as
behind a load balancer: the same backend environment (one database) and the same data directory."""

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

    def start(count: int, **env: str) -> list[DockyardServer]:
        servers = [DockyardServer(tmp_path / "data", env={**shared_env, **env}) for _ in range(count)]
        for server in servers:
            started.append(server.start())
        return servers

    try:
        yield start
    finally:
        for server in started:
            server.kill()
