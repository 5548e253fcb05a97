"""Shared fixtures: one real dockyard server per test session and storage backend.

Set DOCKYARD_TEST_URL to point the suite at an already running registry instead; tests that
need to observe or restart the server process itself take the `server` fixture and are skipped
there, since the process is not ours. The backends are listed in tests/support/backends.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bench.postgres import PostgresCluster
from tests.support.backends import BACKENDS, Registry, backend_env, registry_params, session_registry
from tests.support.s3 import s3_bucket, s3_endpoint  # noqa: F401 - session fixtures for every test package
from tests.support.server import DockyardServer


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Started on first use, once per session."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_database(postgres_cluster: PostgresCluster) -> Callable[[], dict[str, str]]:
    return lambda: {"DOCKYARD_DATABASE__URL": postgres_cluster.create_database()}


@pytest.fixture(scope="session", params=registry_params(list(BACKENDS)))
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The session's server, once per backend: every test that takes it runs on each."""
    yield from session_registry(request, tmp_path_factory)


__all__ = ["Registry"]  # tests import it from here


@pytest.fixture
def server(registry: Registry) -> DockyardServer:
    """The session's dockyard process, for tests that read its metrics or memory."""
    if registry.server is None:
        pytest.skip("DOCKYARD_TEST_URL points at an external registry")
    return registry.server


@pytest.fixture
def backend() -> str:
    """The backend of servers a test starts itself; `@every_backend` runs the test on each."""
    return next(iter(BACKENDS))


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[DockyardServer]:
    """A dockyard process of the test's own (for crash and restart tests)."""
    server = DockyardServer(tmp_path / "data", env=backend_env(request, backend))
    try:
        yield server
    finally:
        server.kill()
