"""The storage backends a dockyard server under test can use, and what each needs to start.

A backend is named METADATA-BLOBS and maps to the session fixtures it needs: each such fixture
is a callable that makes a fresh resource for one server (an empty database, an empty bucket) and
returns the DOCKYARD_* environment that points the server at it. The session `registry` fixture
runs once per backend, so the whole HTTP suite runs on each; tests that start servers of their own
take the `backend` fixture (default: the first entry) and run on more with `@every_backend`.

A directory whose tests need not run on every backend overrides `registry` in its conftest.py with
`params=registry_params([...])` and a body of `yield from session_registry(...)` (tests/interop does).

To add a backend: add its line below, and, for a new service, its session fixture in
tests/conftest.py. The S3 ones come from tests/support/s3.py (a Ceph RGW per session, a fresh
bucket per server).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.support.server import DockyardServer

BACKENDS: dict[str, tuple[str, ...]] = {
    "sqlite-fs": (),
    "pg-fs": ("postgres_database",),
    "sqlite-s3": ("s3_bucket",),
    "pg-s3": ("postgres_database", "s3_bucket"),
}

every_backend = pytest.mark.parametrize("backend", list(BACKENDS))


def backend_env(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    """The environment of a new server on `backend`, with fresh resources of its own."""
    env: dict[str, str] = {}
    for fixture in BACKENDS[backend]:
        env.update(request.getfixturevalue(fixture)())
    return env


_EXTERNAL = os.environ.get("DOCKYARD_TEST_URL")


@dataclass
class Registry:
    url: str
    server: DockyardServer | None


def registry_params(backends: list[str]) -> list[str]:
    """Params of a session `registry` fixture: these backends, or the external registry alone."""
    return ["external"] if _EXTERNAL else backends


def session_registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The body of a session `registry` fixture: a server on backend `request.param`, or the external one."""
    if _EXTERNAL:
        yield Registry(url=_EXTERNAL.rstrip("/"), server=None)
        return
    env = backend_env(request, request.param)
    server = DockyardServer(tmp_path_factory.mktemp(f"registry-{request.param}") / "data", env=env).start()
    try:
        yield Registry(url=server.url, server=server)
    finally:
        server.stop()
