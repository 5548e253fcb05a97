"""Reading, deleting and mounting blobs of a repository."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from dockyard import metrics
from dockyard.blobs.base import BlobSource, BlobStore
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.meta.base import MetadataStore

log = logging.getLogger(__name__)


def _unknown(digest: Digest) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})


class BlobService:
    def __init__(self, meta: MetadataStore, store: BlobStore):
        self._meta = meta
        self._store = store

    async def size(self, repository: str, digest: Digest) -> int:
        size = await self._meta.repository_blob_size(repository, str(digest))
        if size is None:
            raise _unknown(digest)
        return size

    async def source(self, repository: str, digest: Digest) -> BlobSource:
        await self.size(repository, digest)
        source = await self._store.source(digest)
        if source is None:
            log.error("blob %s is linked in %s but its bytes are missing from the blob store", digest, repository)
            raise _unknown(digest)
        return source

    async def delete(self, repository: str, digest: Digest) -> None:
        """Unlink the blob from the repository; its bytes stay until garbage collection."""
        if not await self._meta.unlink_blob(repository, str(digest)):
            raise _unknown(digest)

    async def mount(self, repository: str, digest: Digest, source_repository: str) -> bool:
        """Link a blob the source repository holds into this one, without moving bytes."""
        size = await self._meta.repository_blob_size(source_repository, str(digest))
        if size is None:
            return False
        await self._meta.link_blob(repository, str(digest), size)
        metrics.BLOB_MOUNTS.inc()
        return True

    async def read_small(self, repository: str, digest: Digest, limit: int) -> bytes | None:
        """The whole content of a small blob of the repository (a config), or None if it is larger
        than `limit` or its bytes are missing."""
        size = await self._meta.repository_blob_size(repository, str(digest))
        if size is None or size > limit:
            return None
        source = await self._store.source(digest)
        if source is None:
            return None
        return await asyncio.to_thread(Path(source.path).read_bytes)
