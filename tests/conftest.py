"""Shared fixtures: one real dockyard server per test session.

Set DOCKYARD_TEST_URL to point the suite at an already running registry instead; tests that
need to observe or restart the server process itself take the `server` fixture and are skipped
there, since the process is not ours.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.s3 import s3_bucket, s3_endpoint  # noqa: F401 - session fixtures for every test package
from tests.support.server import DockyardServer

_EXTERNAL = os.environ.get("DOCKYARD_TEST_URL")
# Backend name -> the session fixture that makes a fresh resource for one server (none: defaults).
BACKENDS: dict[str, str | None] = {"sqlite-fs": None, "sqlite-s3": "s3_bucket"}


@dataclass
class Registry:
    url: str
    server: DockyardServer | None


@pytest.fixture(scope="session", params=["external"] if _EXTERNAL else list(BACKENDS))
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if _EXTERNAL:
        yield Registry(url=_EXTERNAL.rstrip("/"), server=None)
        return
    resource = BACKENDS[request.param]
    env = request.getfixturevalue(resource)() if resource else {}
    server = DockyardServer(tmp_path_factory.mktemp(f"registry-{request.param}") / "data", env=env).start()
    try:
        yield Registry(url=server.url, server=server)
    finally:
        server.stop()


@pytest.fixture
def server(registry: Registry) -> DockyardServer:
    """The session's dockyard process, for tests that read its metrics or memory."""
    if registry.server is None:
        pytest.skip("DOCKYARD_TEST_URL points at an external registry")
    return registry.server


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[DockyardServer]:
    """A dockyard process of the test's own (for crash and restart tests)."""
    server = DockyardServer(tmp_path / "data")
    try:
        yield server
    finally:
        server.kill()
