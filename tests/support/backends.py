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
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.support.s3 import ServerBucket, bucket_blobs
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


def flip_stored_byte(data_dir: Path, env: Mapping[str, str], digest: str, offset: int) -> None:
    """Corrupt one byte of a stored blob behind the registry's back, in whichever store holds it."""
    if "DOCKYARD_STORAGE__S3__BUCKET" in env:
        bucket = ServerBucket.of(env)
        key = bucket.key("blobs", digest)
        content = bytearray(bucket.admin.get_object(Bucket=bucket.bucket, Key=key)["Body"].read())
        content[offset] ^= 1
        bucket.admin.put_object(Bucket=bucket.bucket, Key=key, Body=bytes(content))
        return
    with _blob_file(data_dir, "blobs", digest).open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 1]))


def remove_stored_blob(data_dir: Path, env: Mapping[str, str], digest: str) -> None:
    """Delete a blob's bytes behind the registry's back."""
    if "DOCKYARD_STORAGE__S3__BUCKET" in env:
        bucket = ServerBucket.of(env)
        bucket.admin.delete_object(Bucket=bucket.bucket, Key=bucket.key("blobs", digest))
    else:
        _blob_file(data_dir, "blobs", digest).unlink()


def quarantined_blobs(data_dir: Path, env: Mapping[str, str]) -> set[str]:
    """The digests fsck --repair set aside."""
    if "DOCKYARD_STORAGE__S3__BUCKET" in env:
        return ServerBucket.of(env).digests("quarantine")
    root = data_dir / "quarantine"  # files named <algorithm>-<hex>
    return {path.name.replace("-", ":", 1) for path in root.iterdir()} if root.is_dir() else set()


def stored_uploads(data_dir: Path, env: Mapping[str, str]) -> set[str]:
    """The upload sessions whose bytes the blob store holds."""
    if "DOCKYARD_STORAGE__S3__BUCKET" in env:
        return ServerBucket.of(env).upload_ids()
    root = data_dir / "uploads"  # <id> holds the bytes, <id>.size the acknowledged size
    return {path.name.removesuffix(".size") for path in root.iterdir()} if root.is_dir() else set()


def metadata_rows(data_dir: Path, env: Mapping[str, str], query: str) -> list[tuple[Any, ...]]:
    """What a query (one SQL both databases speak) reads from the metadata store of a server on
    `data_dir` and `env`, behind the server's back."""
    if "DOCKYARD_DATABASE__URL" in env:
        with psycopg.connect(env["DOCKYARD_DATABASE__URL"]) as conn:
            return conn.execute(query).fetchall()
    with sqlite3.connect(data_dir / "metadata.db") as conn:
        return conn.execute(query).fetchall()


def _blob_file(data_dir: Path, area: str, digest: str) -> Path:
    algorithm, encoded = digest.split(":")
    return data_dir / area / algorithm / encoded[:2] / encoded


def stored_blobs(data_dir: Path, env: Mapping[str, str]) -> set[str]:
    """The digests whose bytes the blob store of a server on `data_dir` and `env` holds, seen from
    outside: the bucket's blob keys on S3, the files under `data_dir/blobs` otherwise."""
    if "DOCKYARD_STORAGE__S3__BUCKET" in env:
        return bucket_blobs(env)
    root = data_dir / "blobs"
    if not root.is_dir():
        return set()
    return {f"{path.parent.parent.name}:{path.name}" for path in root.glob("*/*/*")}


_EXTERNAL = os.environ.get("DOCKYARD_TEST_URL")


@dataclass
class Registry:
    url: str
    server: DockyardServer | None


def registry_params(backends: list[str]) -> list[str]:
    """Params of a session `registry` fixture: these backends, or the external registry alone."""
    return ["external"] if _EXTERNAL else backends


def session_registry(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    backend: str | None = None,
    **settings: str,
) -> Iterator[Registry]:
    """The body of a session `registry` fixture: a server on `backend` (default `request.param`)
    with more DOCKYARD_* `settings`, or the external one."""
    if _EXTERNAL:
        yield Registry(url=_EXTERNAL.rstrip("/"), server=None)
        return
    backend = backend or request.param
    env = {**backend_env(request, backend), **settings}
    server = DockyardServer(tmp_path_factory.mktemp(f"registry-{backend}") / "data", env=env).start()
    try:
        yield Registry(url=server.url, server=server)
    finally:
        server.stop()
