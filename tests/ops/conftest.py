"""Fixtures for the operations tests: servers of their own, configured per test, on one backend
(SQLite by default; tests marked `@every_backend` run on PostgreSQL too)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.backends import backend_env
from tests.support.server import DockyardServer


class Servers:
    """dockyard processes sharing the test's stores; all are stopped afterwards."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.tmp_path = tmp_path
        self.env = env
        self.started: list[DockyardServer] = []

    def start(self, *args: str, data_dir: Path | None = None, **env: str) -> DockyardServer:
        directory = data_dir or self.tmp_path / f"data{len(self.started)}"
        server = DockyardServer(directory, extra_args=list(args), env={**self.env, **env})
        self.started.append(server)
        return server.start()

    def dockyard(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """A dockyard command on the same stores as the servers."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
        return subprocess.run(
            [sys.executable, "-m", "dockyard", *map(str, args)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**clean, **self.env},
        )

    def stop(self) -> None:
        for server in self.started:
            server.stop()


StartServer = Callable[..., DockyardServer]


@pytest.fixture
def servers(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Servers]:
    group = Servers(tmp_path, backend_env(request, backend))
    yield group
    group.stop()


@pytest.fixture
def start_server(servers: Servers) -> StartServer:
    return servers.start
