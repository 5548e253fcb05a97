"""Reading, deleting and mounting blobs of a repository."""

from __future__ import annotations

import logging
from collections.abc import Callable

from dockyard.audit.trail import DELETE, change_entries
from dockyard.blobs.base import BlobSource, BlobStore
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.events.envelope import BLOB_MEDIA_TYPE, Origin, Target
from dockyard.events.notifier import SILENT, Notifier
from dockyard.meta.blob_links import BlobLinks
from dockyard.proxy import CacheNote, PullThroughCache
from dockyard.registry import metrics
from dockyard.registry.quotas import Quotas

log = logging.getLogger(__name__)

# Automatic mount looks at this many repositories holding the blob, in name order, for one the
# caller may pull: one indexed query, however many repositories there are.
_MOUNT_CANDIDATES = 100

MayPull = Callable[[str], bool]
"""Whether the caller may pull from the named repository."""


def _unknown(digest: Digest) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})


class BlobService:
    def __init__(
        self,
        meta: BlobLinks,
        store: BlobStore,
        automatic_mount: bool = True,
        quotas: Quotas | None = None,
        *,
        notifier: Notifier = SILENT,
        cache: PullThroughCache | None = None,
    ):
        self._meta = meta
        self._proxy = cache
        self._store = store
        self._notifier = notifier
        self._automatic_mount = automatic_mount
        self._quotas = quotas or Quotas(meta)

    async def size(self, repository: str, digest: Digest) -> int:
        size = await self._meta.repository_blob_size(repository, str(digest))
        if size is None:
            raise _unknown(digest)
        return size

    async def source(self, repository: str, digest: Digest) -> BlobSource:
        await self.size(repository, digest)
        source = await self._store.source(digest, vouched=True)
        if source is None:
            log.error("blob %s is linked in %s but its bytes are missing from the blob store", digest, repository)
            raise _unknown(digest)
        return source

    async def head(self, repository: str, digest: Digest) -> tuple[int, CacheNote | None]:
        """The size a HEAD answers; a cache repository's from the pull-through cache."""
        route = None if self._proxy is None else self._proxy.route(repository)
        if route is None or self._proxy is None:
            return await self.size(repository, digest), None
        size, outcome = await self._proxy.blobs.size(route, digest)
        return size, CacheNote(route.upstream.name, outcome)

    async def pull(self, repository: str, digest: Digest) -> tuple[BlobSource, CacheNote | None]:
        """Where a GET's bytes come from; a cache repository's from the pull-through cache."""
        route = None if self._proxy is None else self._proxy.route(repository)
        if route is None or self._proxy is None:
            return await self.source(repository, digest), None
        served = await self._proxy.blobs.source(route, digest)
        return served.source, CacheNote(route.upstream.name, served.outcome)

    async def delete(self, repository: str, digest: Digest, *, origin: Origin | None = None) -> None:
        """Unlink the blob from the repository; its bytes stay until garbage collection."""
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        deleted = Target(repository, digest=str(digest), kind="blobs")
        outbox = self._notifier.entries("delete", [deleted], origin)
        if not await self._meta.unlink_blob(
            repository, str(digest), [*outbox, *change_entries(DELETE, [deleted], origin)]
        ):
            raise _unknown(digest)
        self._notifier.written(outbox)

    async def mount(
        self,
        repository: str,
        digest: Digest,
        source_repository: str | None,
        may_pull: MayPull,
        *,
        origin: Origin | None = None,
    ) -> bool:
        """Link a blob into this repository without moving bytes: from the source repository when
        it holds the blob, otherwise (with automatic mount) from any repository the caller may pull."""
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        found = await self._mountable(str(digest), source_repository, may_pull)
        if found is None:
            return False
        holder, size = found
        await self._quotas.admit(repository, size, str(digest))
        mounted = Target(repository, str(digest), BLOB_MEDIA_TYPE, size, from_repository=holder, kind="blobs")
        outbox = self._notifier.entries("mount", [mounted], origin)
        # The blob may have been collected since: linking then fails and the client uploads it.
        if not await self._meta.link_held_blob(repository, str(digest), outbox):
            return False
        self._notifier.written(outbox)
        metrics.BLOB_MOUNTS.inc()
        return True

    async def _mountable(self, digest: str, source_repository: str | None, may_pull: MayPull) -> tuple[str, int] | None:
        """The repository to mount from (named in the mount event) and the blob's size."""
        if source_repository is not None and may_pull(source_repository):
            size = await self._meta.repository_blob_size(source_repository, digest)
            if size is not None:
                return source_repository, size
        if not self._automatic_mount:
            return None
        for holder, size in await self._meta.repositories_with_blob(digest, _MOUNT_CANDIDATES):
            if may_pull(holder):
                return holder, size
        return None

    async def read_small(self, repository: str, digest: Digest, limit: int) -> bytes | None:
        """The whole content of a small blob of the repository (a config), or None if it is larger
        than `limit` or its bytes are missing."""
        size = await self._meta.repository_blob_size(repository, str(digest))
        if size is None or size > limit:
            return None
        content = bytearray()
        try:
            async for chunk in self._store.read(digest):
                content += chunk
                if len(content) > limit:
                    return None
        except FileNotFoundError:
            return None
        return bytes(content)
