"""A large registry generated straight into the metadata and blob stores through their interfaces,
not pushed over HTTP: what `python -m bench.scale` measures on.

- one repository (`scale/many-tags`) of `tags` tags over `tag_manifests` manifests (each manifest
  its own config blob and a layer every manifest shares), tags `t0000000`, `t0000001`, ...;
- `repositories` repositories of one image each tagged `v1` (`scale/r/000000`, ...), all linking
  the same two blobs;
- `garbage` blobs linked into `scale/garbage` that no manifest references, their bytes in the blob
  store: what a garbage collection pass has to delete.

Every write goes through the store's own methods (link_blob, put_manifest, the blob store's upload
calls). On SQLite the store is built over a driver that commits without waiting for the disk: the
data is generated, and a crash during generation means generating again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.core.digest import Digest
from dockyard.meta.driver import Work
from dockyard.meta.manifests import NewManifest
from dockyard.meta.postgres import PostgresMetadataStore
from dockyard.meta.sql import SqlMetadataStore
from dockyard.meta.sqlite import SqliteDriver
from dockyard.meta.store import MetadataStore

T = TypeVar("T")
Item = TypeVar("Item")

BIG_REPOSITORY = "scale/many-tags"
GARBAGE_REPOSITORY = "scale/garbage"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_CONCURRENCY = 32
_TAGS_PER_CALL = 10_000


@dataclass(frozen=True)
class Shape:
    tags: int = 1_000_000
    tag_manifests: int = 1_000
    repositories: int = 100_000
    garbage: int = 100_000

    def tag(self, number: int) -> str:
        return f"t{number:07d}"

    def repository(self, number: int) -> str:
        return f"scale/r/{number:06d}"


class _BulkSqliteDriver(SqliteDriver):
    """Commits without waiting for the disk (generated data; see the module's docstring)."""

    async def transact(self, work: Work[T], invalidates: bool = True, durable: bool = True) -> T:  # noqa: ARG002
        return await super().transact(work, invalidates, durable=False)


def open_store(data_dir: Path, database_url: str | None) -> MetadataStore:
    """The store a dockyard with this data directory (and database URL, if any) would open."""
    if database_url is None:
        return SqlMetadataStore(_BulkSqliteDriver(data_dir / "metadata.db"))
    return PostgresMetadataStore(database_url, pool_size=_CONCURRENCY)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(label: str) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"scale": label}}}).encode()


_LAYER = b"a layer every generated manifest shares" * 64


def _manifest(config: bytes) -> NewManifest:
    layer_digest, config_digest = _digest(_LAYER), _digest(config)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                        "size": len(_LAYER)}],
        }
    ).encode()  # fmt: skip
    return NewManifest(
        digest=_digest(body),
        media_type=OCI_MANIFEST,
        body=body,
        artifact_type=None,
        subject=None,
        annotations_json=None,
        blob_digests=(config_digest, layer_digest),
        child_digests=(),
    )


async def _for_each(
    items: Iterable[Item], call: Callable[[Item], Awaitable[object]], at_once: int = _CONCURRENCY
) -> None:
    """`call` on every item, at most `at_once` at a time (PostgreSQL's pool serves them side by
    side; SQLite's one writer thread queues them)."""
    pending: set[asyncio.Future[object]] = set()
    for item in items:
        if len(pending) >= at_once:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        pending.add(asyncio.ensure_future(call(item)))
    for task in asyncio.as_completed(pending):
        await task


async def _image(meta: MetadataStore, repository: str, config: bytes, tags: list[str]) -> str:
    manifest = _manifest(config)
    await meta.link_blob(repository, _digest(config), len(config))
    await meta.link_blob(repository, _digest(_LAYER), len(_LAYER))
    for start in range(0, max(1, len(tags)), _TAGS_PER_CALL):
        await meta.put_manifest(repository, manifest, tags[start : start + _TAGS_PER_CALL])
    return manifest.digest


async def _many_tags(meta: MetadataStore, shape: Shape) -> None:
    per_manifest = -(-shape.tags // shape.tag_manifests)

    async def image(number: int) -> None:
        first = number * per_manifest
        tags = [shape.tag(n) for n in range(first, min(shape.tags, first + per_manifest))]
        await _image(meta, BIG_REPOSITORY, _config(f"many-tags {number}"), tags)

    # One at a time: every tag written updates its repository's row (push time, tag count), so
    # concurrent writers into one repository would only conflict and retry on PostgreSQL.
    await _for_each(range(shape.tag_manifests), image, at_once=1)


async def _repositories(meta: MetadataStore, shape: Shape) -> None:
    config = _config("one of many repositories")
    # A few at a time: every repository links the same two blobs, and each link queues a garbage
    # review of the blob, one row per digest that concurrent writers on PostgreSQL take turns on.
    await _for_each(
        range(shape.repositories), lambda number: _image(meta, shape.repository(number), config, ["v1"]), at_once=4
    )


async def _store_blob(store: FilesystemBlobStore, data: bytes) -> str:
    async def body() -> AsyncIterator[bytes]:
        yield data

    upload_id = f"scale-{hashlib.sha256(data).hexdigest()[:32]}"
    digest = Digest.parse(_digest(data))
    await store.start_upload(upload_id)
    await store.append_upload(upload_id, 0, body(), None)
    await store.commit_upload(upload_id, digest, len(data))
    return str(digest)


async def _garbage(meta: MetadataStore, store: FilesystemBlobStore, count: int) -> None:
    async def one(number: int) -> None:
        data = f"unreferenced blob {number}".encode()
        digest = await _store_blob(store, data)
        await meta.link_blob(GARBAGE_REPOSITORY, digest, len(data))

    await _for_each(range(count), one)


async def generate(
    data_dir: Path, database_url: str | None, shape: Shape, log: Callable[[str], None], *, garbage: bool = True
) -> dict[str, float]:
    """Fill the stores of `data_dir` (and `database_url`); seconds each part took. The garbage can
    be left for later (`add_garbage`), so that a garbage collection pass can clear the queue first."""
    meta = open_store(data_dir, database_url)
    await meta.start()
    seconds: dict[str, float] = {}
    try:
        for part, fill in (("many_tags", _many_tags), ("repositories", _repositories)):
            started = time.perf_counter()
            await fill(meta, shape)
            seconds[part] = time.perf_counter() - started
            log(f"  generated {part} in {seconds[part]:.0f} s")
    finally:
        await meta.close()
    if garbage:
        seconds.update(await add_garbage(data_dir, database_url, shape, log))
    (data_dir / "shape.json").write_text(json.dumps(asdict(shape)))
    return seconds


async def add_garbage(
    data_dir: Path, database_url: str | None, shape: Shape, log: Callable[[str], None]
) -> dict[str, float]:
    meta = open_store(data_dir, database_url)
    await meta.start()
    try:
        started = time.perf_counter()
        await _garbage(meta, FilesystemBlobStore(data_dir), shape.garbage)
        elapsed = time.perf_counter() - started
        log(f"  generated {shape.garbage} unreferenced blobs in {elapsed:.0f} s")
    finally:
        await meta.close()
    return {"garbage": elapsed}
