"""Blob upload sessions: monolithic, chunked and streamed pushes.

The running digest of a session lives in the memory of the process that received its bytes.
A process that lacks it (after a restart, or when another worker took the previous chunk)
re-reads the stored bytes at completion instead: hash state is never serialized.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable
from dataclasses import dataclass

from dockyard.blobs.base import BlobStore, UnknownUpload, UploadConflict
from dockyard.core.digest import Digest, Hasher, new_hasher
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.events.envelope import BLOB_MEDIA_TYPE, Origin, Target
from dockyard.events.notifier import SILENT, Notifier
from dockyard.meta.uploads import NO_LIMITS, SessionLimits, TooManySessions, UploadClaims, claim_digest
from dockyard.proxy import PullThroughCache
from dockyard.registry import metrics
from dockyard.registry.quotas import Quotas

log = logging.getLogger(__name__)

_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_RUNNING_ALGORITHM = "sha256"
_MAX_RUNNING_HASHES = 10_000
_PURGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class UploadStatus:
    id: str
    size: int


class UploadRangeError(RegistryError):
    """A chunk did not start where the upload ends; the client should resume at `size`."""

    def __init__(self, upload_id: str, size: int):
        super().__init__(ErrorCode.BLOB_UPLOAD_INVALID, f"chunk must start at offset {size}")
        self.status = UploadStatus(upload_id, size)


# How a refused session names the limit it met, to the client.
_WHERE = {"repository": "in this repository", "owner": "by this user"}


def _unknown_upload(upload_id: str) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id[:64]})


class UploadService:
    def __init__(
        self,
        meta: UploadClaims,
        store: BlobStore,
        quotas: Quotas,
        *,
        notifier: Notifier = SILENT,
        cache: PullThroughCache | None = None,
        limits: SessionLimits = NO_LIMITS,
    ):
        self._meta = meta
        self._proxy = cache
        self._store = store
        self._notifier = notifier
        self._quotas = quotas
        self._limits = limits
        # upload id -> (bytes hashed, running hasher), for sessions this process is receiving.
        # Sessions abandoned or finished elsewhere leave entries behind; the oldest are evicted,
        # which costs at most one re-read of the stored bytes if such a session does go on.
        self._hashers: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()

    async def start(self, repository: str, owner: str | None = None, *, durable: bool = True) -> UploadStatus:
        """Open a session for `owner` (the user pushing; None when anonymous or auth is off);
        `durable` unless it ends within the request (a monolithic push)."""
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        upload_id = str(uuid.uuid4())
        # The session row comes first: bytes on disk always have a row by which they get purged.
        try:
            await self._meta.create_upload(upload_id, repository, owner, self._limits)
        except TooManySessions as full:
            raise RegistryError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"{full.limit} upload sessions are open {_WHERE[full.scope]} already; finish or cancel one, "
                "or retry once abandoned ones are purged",
                {"limit": full.limit},
            ) from None
        await self._store.start_upload(upload_id, durable=durable)
        self._remember(upload_id, 0, new_hasher(_RUNNING_ALGORITHM))
        return UploadStatus(upload_id, 0)

    async def status(self, repository: str, upload_id: str) -> UploadStatus:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise _unknown_upload(upload_id)
        session = await self._meta.get_upload(upload_id)
        if session is None or session.repository != repository:
            raise _unknown_upload(upload_id)
        size = await self._store.upload_size(upload_id)
        if size is None:
            raise _unknown_upload(upload_id)
        return UploadStatus(upload_id, size)

    async def append(
        self,
        repository: str,
        upload_id: str,
        chunks: AsyncIterable[bytes],
        start: int | None = None,
        *,
        length: int | None = None,
    ) -> UploadStatus:
        """Add a chunk; `start` is where the client says it begins (from Content-Range), `length`
        how long it says it is (Content-Length), if it said."""
        current = await self._status_at(repository, upload_id, start)
        if length is not None:
            await self._quotas.admit(repository, current.size + length)
        size = await self._write(current, chunks, durable=True)  # the 202 acknowledges them
        await self._meta.touch_upload(upload_id)
        return UploadStatus(upload_id, size)

    async def _status_at(self, repository: str, upload_id: str, start: int | None) -> UploadStatus:
        current = await self.status(repository, upload_id)
        if start is not None and start != current.size:
            raise UploadRangeError(upload_id, current.size)
        return current

    async def _write(self, current: UploadStatus, chunks: AsyncIterable[bytes], *, durable: bool) -> int:
        hashed = self._hashers.pop(current.id, None)
        hasher = hashed[1] if hashed and hashed[0] == current.size else None
        try:
            size = await self._store.append_upload(current.id, current.size, chunks, hasher, durable=durable)
        except UploadConflict as conflict:
            raise UploadRangeError(current.id, conflict.current_size) from None
        except UnknownUpload:
            raise _unknown_upload(current.id) from None
        if hasher is not None:
            self._remember(current.id, size, hasher)
        return size

    def _remember(self, upload_id: str, size: int, hasher: Hasher) -> None:
        self._hashers[upload_id] = (size, hasher)
        if len(self._hashers) > _MAX_RUNNING_HASHES:
            self._hashers.popitem(last=False)

    async def complete(
        self,
        repository: str,
        upload_id: str,
        digest: Digest,
        chunks: AsyncIterable[bytes],
        start: int | None = None,
        *,
        length: int | None = None,
        origin: Origin | None = None,
    ) -> int:
        """Take the last chunk (possibly empty), verify the digest and make the blob visible."""
        current = await self._status_at(repository, upload_id, start)
        if length is not None:
            await self._quotas.admit(repository, current.size + length, str(digest))
        size = await self._write(current, chunks, durable=False)  # the commit makes them durable
        actual = await self._digest_of(upload_id, size, digest.algorithm)
        if actual != digest:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID,
                "the uploaded content does not match the digest",
                {"expected": str(digest), "actual": str(actual)},
            )
        await self._quotas.admit(repository, size, str(digest))
        await self._claim(upload_id, digest)
        try:
            await self._store.commit_upload(upload_id, digest, size)
        except UnknownUpload:
            raise _unknown_upload(upload_id) from None
        except UploadConflict:
            raise UploadRangeError(upload_id, size) from None
        # Bytes are durable before the link commits: a visible blob always has its bytes.
        pushed = Target(repository, str(digest), BLOB_MEDIA_TYPE, size, kind="blobs")
        outbox = self._notifier.entries("push", [pushed], origin)
        await self._meta.finish_upload(upload_id, repository, str(digest), size, outbox)
        self._notifier.written(outbox)
        self._hashers.pop(upload_id, None)
        metrics.BLOB_UPLOADS.inc()
        metrics.BLOB_UPLOAD_BYTES.inc(size)
        return size

    async def _claim(self, upload_id: str, digest: Digest) -> None:
        """From here on GC leaves this digest alone; bytes of it that GC is still deleting must be
        gone before ours take their place, or the deletion would take ours."""
        if not await claim_digest(self._meta, upload_id, str(digest)):
            raise RegistryError(
                ErrorCode.TOO_MANY_REQUESTS, "an older copy of this blob is still being deleted; retry shortly"
            )

    async def upload_whole(
        self,
        repository: str,
        digest: Digest,
        chunks: AsyncIterable[bytes],
        length: int | None = None,
        *,
        owner: str | None = None,
        origin: Origin | None = None,
    ) -> int:
        """A monolithic upload in one request (POST with ?digest=); its session counts while it lasts."""
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        if length is not None:
            await self._quotas.admit(repository, length, str(digest))
        session = await self.start(repository, owner, durable=False)
        try:
            return await self.complete(repository, session.id, digest, chunks, origin=origin)
        except BaseException:
            await self._discard(session.id)
            raise

    async def _digest_of(self, upload_id: str, size: int, algorithm: str) -> Digest:
        hashed = self._hashers.get(upload_id)
        if algorithm == _RUNNING_ALGORITHM and hashed and hashed[0] == size:
            return Digest(algorithm, hashed[1].hexdigest())
        hasher = new_hasher(algorithm)
        loop = asyncio.get_running_loop()
        async for chunk in self._store.read_upload(upload_id):
            # Off the event loop: re-hashing a large upload takes about 2 s per GiB.
            await loop.run_in_executor(None, hasher.update, chunk)
        return Digest(algorithm, hasher.hexdigest())

    async def cancel(self, repository: str, upload_id: str) -> None:
        await self.status(repository, upload_id)
        await self._discard(upload_id)

    async def _discard(self, upload_id: str) -> None:
        self._hashers.pop(upload_id, None)
        await self._store.abort_upload(upload_id)
        await self._meta.delete_upload(upload_id)

    async def purge_stale(self, max_age_seconds: float) -> int:
        """Remove sessions nobody touched for a while, with their bytes, and the store's leftovers."""
        cutoff = time.time() - max_age_seconds
        purged = 0
        while stale := await self._meta.claim_stale_uploads(cutoff, _PURGE_BATCH):
            for upload_id in stale:
                await self._discard(upload_id)
            purged += len(stale)
            metrics.UPLOADS_PURGED.inc(len(stale))
        if purged:
            log.info("purged %d abandoned upload sessions", purged)
        leftovers = await self._store.purge_stale(cutoff)
        if leftovers:
            log.info("removed %d unfinished multipart uploads from the blob store", leftovers)
        return purged
