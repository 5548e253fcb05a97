"""Registry graphs for GC tests: a model of what must survive, and the registry layer to build them in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.http.ocitest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    image_manifest,
    index_manifest,
)

from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.config.settings import Gc
from dockyard.core.digest import Digest
from dockyard.gc.collector import Collector
from dockyard.meta.postgres import PostgresMetadataStore
from dockyard.meta.sqlite import SqliteMetadataStore
from dockyard.meta.store import MetadataStore
from dockyard.registry import (
    BlobService,
    ListingService,
    ManifestService,
    OperationsService,
    Registry,
    UploadService,
)
from dockyard.registry.quotas import Quotas


@dataclass
class ModelManifest:
    body: bytes
    media_type: str
    blobs: tuple[bytes, ...]
    children: tuple[str, ...]
    subject: str | None

    @property
    def digest(self) -> str:
        return str(Digest.of(self.body))


@dataclass
class ModelRepository:
    manifests: dict[str, ModelManifest] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def live(self) -> set[str]:
        """Reachable from a tag through index children, plus referrers of anything live."""
        live: set[str] = set()
        pending = [digest for digest in self.tags.values() if digest in self.manifests]
        while pending:
            digest = pending.pop()
            if digest in live:
                continue
            live.add(digest)
            pending.extend(child for child in self.manifests[digest].children if child in self.manifests)
            pending.extend(d for d, m in self.manifests.items() if m.subject == digest)
        return live


@dataclass
class Model:
    repositories: dict[str, ModelRepository] = field(default_factory=dict)
    ever_pushed: set[tuple[str, str]] = field(default_factory=set)

    def repository(self, name: str) -> ModelRepository:
        return self.repositories.setdefault(name, ModelRepository())

    def live_blobs(self) -> set[str]:
        return {
            str(Digest.of(blob))
            for repository in self.repositories.values()
            for digest in repository.live()
            for blob in repository.manifests[digest].blobs
        }


def image(config: bytes, layers: list[bytes], subject: ModelManifest | None = None) -> ModelManifest:
    body = image_manifest(
        descriptor(config, OCI_CONFIG),
        [descriptor(layer, OCI_LAYER) for layer in layers],
        subject=descriptor(subject.body, subject.media_type) if subject else None,
        artifact_type="application/vnd.test.signature" if subject else None,
    )
    return ModelManifest(body, OCI_MANIFEST, (config, *layers), (), subject.digest if subject else None)


def index(children: list[ModelManifest]) -> ModelManifest:
    body = index_manifest([descriptor(child.body, child.media_type) for child in children])
    return ModelManifest(body, OCI_INDEX, (), tuple(child.digest for child in children), None)


class Stores:
    """The registry layer over real stores in a directory, with a collector beside it."""

    def __init__(self, root: Path, settings: Gc | None = None, database_url: str | None = None):
        self.meta: MetadataStore = (
            PostgresMetadataStore(database_url, 4) if database_url else SqliteMetadataStore(root / "metadata.db")
        )
        self.blob_store = FilesystemBlobStore(root)
        self.registry = Registry(
            blobs=BlobService(self.meta, self.blob_store),
            uploads=UploadService(self.meta, self.blob_store, Quotas(self.meta)),
            manifests=ManifestService(self.meta),
            listing=ListingService(self.meta, 1000),
            operations=OperationsService(self.meta, self.blob_store, False, 2.0, 1000),
        )
        self.collector = Collector(self.meta, self.blob_store, settings or Gc())

    async def start(self) -> Stores:
        await self.meta.start()
        return self

    async def close(self) -> None:
        await self.meta.close()
        await self.blob_store.close()

    async def push_blob(self, repository: str, blob: bytes) -> None:
        await self.registry.uploads.upload_whole(repository, Digest.of(blob), chunks_of(blob))

    async def push(self, repository: str, manifest: ModelManifest, tag: str | None) -> None:
        for blob in manifest.blobs:
            await self.push_blob(repository, blob)
        await self.registry.manifests.put(repository, tag or manifest.digest, manifest.body, manifest.media_type, [])

    async def stored_blobs(self) -> set[str]:
        return {str(blob.digest) async for blob in self.blob_store.list_blobs()}

    async def has_manifest(self, repository: str, digest: str) -> bool:
        return await self.meta.manifest_by_digest(repository, digest) is not None


async def chunks_of(data: bytes) -> AsyncIterator[bytes]:
    yield data


def config_blob(seed: int) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
