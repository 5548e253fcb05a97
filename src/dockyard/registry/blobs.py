"""Reading, deleting and mounting blobs of a repository."""

from __future__ import annotations

import logging

from dockyard import metrics
from dockyard.blobs.base import BlobSource, BlobStore
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.events.envelope import BLOB_MEDIA_TYPE, Origin, Target
from dockyard.events.notifier import Notifier
from dockyard.meta.base import MetadataStore

log = logging.getLogger(__name__)


def _unknown(digest: Digest) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})


class BlobService:
    def __init__(self, meta: MetadataStore, store: BlobStore, notifier: Notifier):
        self._meta = meta
        self._store = store
        self._notifier = notifier

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

    async def delete(self, repository: str, digest: Digest, *, origin: Origin | None = None) -> None:
        """Unlink the blob from the repository; its bytes stay until garbage collection."""
        outbox = self._notifier.entries("delete", [Target(repository, digest=str(digest), kind="blobs")], origin)
        if not await self._meta.unlink_blob(repository, str(digest), outbox):
            raise _unknown(digest)
        self._notifier.written(outbox)

    async def mount(
        self, repository: str, digest: Digest, source_repository: str, *, origin: Origin | None = None
    ) -> bool:
        """Link a blob the source repository holds into this one, without moving bytes."""
        size = await self._meta.repository_blob_size(source_repository, str(digest))
        if size is None:
            return False
        mounted = Target(
            repository, str(digest), BLOB_MEDIA_TYPE, size, from_repository=source_repository, kind="blobs"
        )
        outbox = self._notifier.entries("mount", [mounted], origin)
        await self._meta.link_blob(repository, str(digest), size, outbox)
        self._notifier.written(outbox)
        metrics.BLOB_MOUNTS.inc()
        return True
