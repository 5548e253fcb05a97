"""This registry as one side of a copy. Reads come from the metadata (replication reading a tag is
no pull: it does not count for retention); writes go through the registry layer, so events, GC
triggers, quotas and immutable tags apply to replicated content as to any push."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from dockyard.blobs.base import BlobStore, LocalFile, StreamedBlob
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.meta.blob_links import BlobLinks
from dockyard.meta.catalog import Catalog
from dockyard.meta.referrers import Referrers
from dockyard.meta.tags import Tags
from dockyard.registry import Registry
from dockyard.remote import RemoteUnavailable
from dockyard.replication.sides import BLOB_ATTEMPTS, LARGE_BLOB_BYTES, ChunksFrom, Manifest

log = logging.getLogger(__name__)

_READ_BYTES = 1 << 20
_PAGE = 1000
_HOLDERS = 20
_BACKOFF_SECONDS = (0.5, 1, 2, 4, 8, 8)


class LocalStore(Catalog, Tags, Referrers, BlobLinks, Protocol):
    """What replication reads of this registry's metadata."""


def _everyone(_repository: str) -> bool:
    return True


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


def _read_file(path: str, offset: int) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        with Path(path).open("rb") as file:
            file.seek(offset)
            while chunk := await asyncio.to_thread(file.read, _READ_BYTES):
                yield chunk

    return chunks()


class LocalSide:
    def __init__(self, registry: Registry, meta: LocalStore, store: BlobStore):
        self._registry = registry
        self._meta = meta
        self._store = store

    @property
    def label(self) -> str:
        return "this registry"

    async def repositories(self, covers: Callable[[str], bool], literal: list[str] | None) -> AsyncIterator[str]:
        if literal is not None:
            for name in literal:
                if await self._meta.list_tags(name, 1, None) is not None:
                    yield name
            return
        after: str | None = None
        while page := await self._meta.list_repositories(_PAGE, after):
            for name in page:
                if covers(name):
                    yield name
            after = page[-1]

    async def tags(self, repository: str) -> list[str]:
        tags: list[str] = []
        while (page := await self._meta.list_tags(repository, _PAGE, tags[-1] if tags else None)) is not None:
            tags.extend(page)
            if len(page) < _PAGE:
                break
        return tags

    async def resolve(self, repository: str, tag: str) -> str | None:
        found = await self._meta.manifest_by_tag(repository, tag)
        return None if found is None else found.digest

    async def tags_of(self, repository: str, digest: str) -> list[str] | None:
        return await self._meta.tags_of_manifest(repository, digest, 10_000)

    async def manifest(self, repository: str, digest: str) -> Manifest:
        ref, body = await self._registry.manifests.fetch(repository, digest)
        return Manifest(ref.digest, ref.media_type, body)

    async def has_manifest(self, repository: str, digest: str) -> bool:
        try:
            await self._registry.manifests.resolve(repository, digest)
        except RegistryError:
            return False
        return True

    async def referrers(self, repository: str, digest: str) -> list[str]:
        return [found.digest for found in await self._meta.referrers(repository, digest, None)]

    async def holders(self, digest: str) -> list[str]:
        return [name for name, _ in await self._meta.repositories_with_blob(digest, _HOLDERS)]

    async def blob_size(self, repository: str, digest: str) -> int | None:
        return await self._meta.repository_blob_size(repository, digest)

    async def read_blob(self, repository: str, digest: str, offset: int) -> AsyncIterator[bytes]:
        source = await self._registry.blobs.source(repository, Digest.parse(digest))
        if isinstance(source, LocalFile):
            chunks = _read_file(source.path, offset)
        elif isinstance(source, StreamedBlob):
            chunks = await source.open(offset, source.size)
        else:  # a redirect to presigned URLs: read through the store, skipping to the offset
            chunks = self._skipped(self._store.read(Digest.parse(digest)), offset)
        async for chunk in chunks:
            yield chunk

    @staticmethod
    async def _skipped(chunks: AsyncIterator[bytes], offset: int) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            if offset >= len(chunk):
                offset -= len(chunk)
                continue
            yield chunk[offset:]
            offset = 0

    async def mount(self, repository: str, digest: str, candidates: list[str]) -> bool:  # noqa: ARG002
        return await self._registry.blobs.mount(repository, Digest.parse(digest), None, _everyone)

    async def write_blob(self, repository: str, digest: str, size: int, chunks: ChunksFrom) -> None:
        parsed = Digest.parse(digest)
        if size <= LARGE_BLOB_BYTES:
            await self._registry.uploads.upload_whole(repository, parsed, chunks(0), size)
            return
        uploads = self._registry.uploads
        session = await uploads.start(repository)
        try:
            await self._append_resuming(repository, session.id, chunks)
            await uploads.complete(repository, session.id, parsed, _nothing())
        except BaseException:
            await uploads.cancel(repository, session.id)
            raise

    async def _append_resuming(self, repository: str, upload_id: str, chunks: ChunksFrom) -> None:
        """Append the blob, going on from the bytes already stored when the source breaks off."""
        uploads = self._registry.uploads
        offset = 0
        for attempt, backoff in enumerate(_BACKOFF_SECONDS[:BLOB_ATTEMPTS]):
            try:
                await uploads.append(repository, upload_id, chunks(offset), offset)
                return
            except RemoteUnavailable as error:
                if attempt == BLOB_ATTEMPTS - 1:
                    raise
                offset = (await uploads.status(repository, upload_id)).size
                log.info("blob transfer into %s broke off (%s); resuming at %d bytes", repository, error, offset)
                await asyncio.sleep(max(backoff, error.retry_after or 0))

    async def put_manifest(self, repository: str, manifest: Manifest, tags: tuple[str, ...]) -> None:
        reference = tags[0] if tags else manifest.digest
        await self._registry.manifests.put(repository, reference, manifest.body, manifest.media_type, tags[1:])

    async def delete_tag(self, repository: str, tag: str) -> bool:
        try:
            await self._registry.manifests.delete(repository, tag)
        except RegistryError as error:
            if error.code is not ErrorCode.MANIFEST_UNKNOWN:
                raise
        return True

    async def delete_manifest(self, repository: str, digest: str) -> None:
        try:
            await self._registry.manifests.delete(repository, digest)
        except RegistryError as error:
            if error.code is not ErrorCode.MANIFEST_UNKNOWN:
                raise
