"""The storage backends a dockyard server under test can use, and what each needs to start.

A backend is named METADATA-BLOBS and maps to the session fixtures it needs: each such fixture
is a callable that makes a fresh resource for one server (an empty database, an empty bucket) and
returns the DOCKYARD_* environment that points the server at it. The session `registry` fixture
runs once per backend, so the whole HTTP suite runs on each; tests that start servers of their own
take the `backend` fixture (default: the first entry) and run on more with `@every_backend`.

To add a backend: add its line below, and, for a new service, its session fixture in
tests/conftest.py. The S3 blob store, for instance:
    "pg-s3": ("postgres_database", "s3_bucket"),
with an `s3_bucket` fixture returning a callable that creates a bucket and gives
{"DOCKYARD_STORAGE__S3__BUCKET": ..., ...}.
"""

from __future__ import annotations

import pytest

BACKENDS: dict[str, tuple[str, ...]] = {
    "sqlite-fs": (),
    "pg-fs": ("postgres_database",),
}

every_backend = pytest.mark.parametrize("backend", list(BACKENDS))


def backend_env(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    """The environment of a new server on `backend`, with fresh resources of its own."""
    env: dict[str, str] = {}
    for fixture in BACKENDS[backend]:
        env.update(request.getfixturevalue(fixture)())
    return env
