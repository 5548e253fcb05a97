"""Another registry as one side of a copy, through dockyard's remote client.

A large blob's upload is remembered in the metadata store from its start until it is complete
(the upload URL the other registry gave, per rule, repository and blob), so that when it breaks off
for good (attempts exhausted, the process stopped or killed) the next transfer of the blob by the
rule, in any process, resumes it from what the other registry holds instead of from the start.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from dockyard.core.digest import Digest
from dockyard.meta.replication_uploads import ReplicationUploads
from dockyard.remote import RemoteClient, RemoteInvalid, RemoteNotFound, UploadSession
from dockyard.replication.sides import BLOB_ATTEMPTS, CHUNK_BYTES, LARGE_BLOB_BYTES, ChunksFrom, Manifest

# Mounts asked for per blob: each refused one costs the other side a session opened and cancelled.
_MOUNT_TRIES = 2


class RemoteSide:
    def __init__(self, client: RemoteClient, label: str, uploads: ReplicationUploads, rule: str):
        self._client = client
        self._label = label
        self._uploads = uploads
        self._rule = rule

    @property
    def label(self) -> str:
        return self._label

    async def repositories(self, covers: Callable[[str], bool], literal: list[str] | None) -> AsyncIterator[str]:
        names = literal if literal is not None else await self._client.list_repositories()
        for name in names:
            if covers(name):
                yield name

    async def tags(self, repository: str) -> list[str]:
        try:
            return await self._client.list_tags(repository)
        except RemoteNotFound:
            return []

    async def resolve(self, repository: str, tag: str) -> str | None:
        try:
            return str((await self._client.head_manifest(repository, tag)).digest)
        except RemoteNotFound:
            return None

    async def tags_of(self, repository: str, digest: str) -> list[str] | None:  # noqa: ARG002
        return None

    async def manifest(self, repository: str, digest: str) -> Manifest:
        fetched = await self._client.get_manifest(repository, digest)
        return Manifest(str(fetched.digest), fetched.media_type, fetched.body)

    async def has_manifest(self, repository: str, digest: str) -> bool:
        try:
            await self._client.head_manifest(repository, digest)
        except RemoteNotFound:
            return False
        return True

    async def referrers(self, repository: str, digest: str) -> list[str]:
        return [str(found.digest) for found in await self._client.referrers(repository, digest)]

    async def holders(self, digest: str) -> list[str]:  # noqa: ARG002 - nothing tells which repositories hold it
        return []

    async def blob_size(self, repository: str, digest: str) -> int | None:
        return await self._client.head_blob(repository, digest)

    async def read_blob(self, repository: str, digest: str, offset: int) -> AsyncIterator[bytes]:
        async with self._client.get_blob(repository, digest, offset or None) as stream:
            async for chunk in stream.chunks:
                yield chunk

    async def mount(self, repository: str, digest: str, candidates: list[str]) -> bool:
        for source in candidates[:_MOUNT_TRIES]:
            try:
                if await self._client.mount_blob(repository, digest, source):
                    return True
            except (RemoteNotFound, RemoteInvalid):
                continue  # that repository is not there (yet): upload instead
        return False

    async def write_blob(self, repository: str, digest: str, size: int, chunks: ChunksFrom) -> None:
        if size <= LARGE_BLOB_BYTES:
            await self._client.upload_blob(repository, digest, size, chunks, attempts=BLOB_ATTEMPTS)
            return

        async def keep(session: UploadSession) -> None:
            await self._uploads.keep_replication_upload(self._rule, repository, digest, session.location)

        await self._client.upload_blob(
            repository,
            digest,
            size,
            chunks,
            CHUNK_BYTES,
            resume=await self._unfinished(repository, digest),
            attempts=BLOB_ATTEMPTS,
            on_session=keep,
        )
        await self._uploads.drop_replication_upload(self._rule, repository, digest)

    async def _unfinished(self, repository: str, digest: str) -> UploadSession | None:
        location = await self._uploads.replication_upload(self._rule, repository, digest)
        return None if location is None else UploadSession(repository, Digest.parse(digest), location)

    async def put_manifest(self, repository: str, manifest: Manifest, tags: tuple[str, ...]) -> None:
        for reference in tags or (manifest.digest,):
            await self._client.put_manifest(repository, reference, manifest.media_type, manifest.body)

    async def delete_tag(self, repository: str, tag: str) -> bool:
        try:
            return await self._client.delete_tag(repository, tag)
        except RemoteNotFound:
            return True

    async def delete_manifest(self, repository: str, digest: str) -> None:
        with contextlib.suppress(RemoteNotFound):
            await self._client.delete_manifest(repository, digest)
