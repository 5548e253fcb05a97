"""Fixtures for the operations tests: servers of their own, configured per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.server import DockyardServer

StartServer = Callable[..., DockyardServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start dockyard processes with extra environment and flags; all are stopped afterwards."""
    started: list[DockyardServer] = []

    def start(*args: str, data_dir: Path | None = None, **env: str) -> DockyardServer:
        directory = data_dir or tmp_path / f"data{len(started)}"
        server = DockyardServer(directory, extra_args=list(args), env=env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Poll until `condition` holds: for effects that land asynchronously (log flushes, caches)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
