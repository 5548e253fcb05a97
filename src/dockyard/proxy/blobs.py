"""Blobs of cache repositories: served from the blob store when cached; otherwise downloaded from
upstream once (across every process and instance) while every client that wants them reads along.

A miss takes the blob's fill lease and starts a download detached from the request, so a client that
hangs up never cancels it. The bytes go to an upload session in pieces of `PIECE_BYTES` (filesystem
appends, or S3 segments other instances can read as soon as each is stored) while the blob store
hashes them in its worker threads; clients in this process take them from memory as they arrive
(fill.py). The digest is verified before the upload is committed and linked. Clients in other
processes find the lease and read the upload as it grows; if the lease's owner dies, one of them
takes the download over.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from dockyard.blobs.base import BlobSource, BlobStore, StreamedBlob, UnknownUpload
from dockyard.core.digest import Digest, Hasher, new_hasher
from dockyard.core.errors import ErrorCode, RegistryError, Unavailable
from dockyard.meta.blob_links import BlobLinks
from dockyard.meta.cache import CacheState, FillLease
from dockyard.meta.uploads import UploadClaims, claim_digest
from dockyard.proxy import metrics
from dockyard.proxy.errors import upstream_failure
from dockyard.proxy.fill import Fill, read_blob
from dockyard.proxy.leases import Leases
from dockyard.proxy.notify import Filled, FillEvents
from dockyard.proxy.pulls import CachePulls
from dockyard.proxy.upstreams import CacheRoute
from dockyard.remote import RemoteError, RemoteInvalid, RemoteNotFound

log = logging.getLogger("dockyard.proxy")

PIECE_BYTES = 8 << 20
FOLLOW_POLL_SECONDS = 0.05
"""How often a client of another process's download looks for more stored bytes."""

Outcome = Literal["hit", "miss"]


class BlobCacheStore(CacheState, UploadClaims, BlobLinks, Protocol):
    """Cached blobs and their links, the upload sessions fills write to, and their leases."""


@dataclass(frozen=True, slots=True)
class ServedBlob:
    source: BlobSource
    outcome: Outcome


def _unknown(digest: Digest) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})


def _key(route: CacheRoute, digest: Digest) -> str:
    return f"blob:{route.local}@{digest}"


class BlobCache:
    def __init__(self, meta: BlobCacheStore, store: BlobStore, leases: Leases, pulls: CachePulls, events: FillEvents):
        self._meta = meta
        self._store = store
        self._leases = leases
        self._pulls = pulls
        self._events = events
        self._fills: dict[str, Fill] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def settle(self) -> None:
        """Wait for this process's downloads to end (stored or failed)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the downloads of this process (others take them over once their leases run out)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def size(self, route: CacheRoute, digest: Digest) -> tuple[int, Outcome]:
        """The blob's size: cached, being downloaded, or as upstream says (a HEAD, nothing stored)."""
        size = await self._meta.repository_blob_size(route.local, str(digest))
        if size is not None:
            return size, "hit"
        fill = self._fills.get(_key(route, digest))
        if fill is not None:
            return await fill.size(), "miss"
        lease = await self._meta.fill_lease(_key(route, digest))
        if lease is not None and lease.size is not None:
            return lease.size, "miss"
        try:
            size = await route.upstream.client.head_blob(route.repository, digest)
        except RemoteError as error:
            raise upstream_failure(route.upstream, error) from None
        if size is None:
            raise _unknown(digest)
        return size, "miss"

    async def source(self, route: CacheRoute, digest: Digest) -> ServedBlob:
        cached = await self._cached(route, digest)
        if cached is not None:
            self._pulls.digest(route.local, str(digest))
            served = ServedBlob(cached, "hit")
        else:
            served = ServedBlob(await self._miss(route, digest), "miss")
        metrics.TALLIES.served(route.upstream.name, "blob", served.outcome)
        return served

    async def _cached(self, route: CacheRoute, digest: Digest) -> BlobSource | None:
        """The stored blob, linked here already or once it is (held by another repository)."""
        if _key(route, digest) in self._fills:  # this process is downloading it: read along
            return None
        source = await self._linked(route, digest)
        if source is None and await self._held_elsewhere(route, digest):
            source = await self._linked(route, digest)
        return source

    async def _linked(self, route: CacheRoute, digest: Digest) -> BlobSource | None:
        if await self._meta.repository_blob_size(route.local, str(digest)) is None:
            return None
        source = await self._store.source(digest, vouched=True)
        if source is None:
            log.error("blob %s is linked in %s but its bytes are missing; fetching it again", digest, route.local)
        return source

    async def _held_elsewhere(self, route: CacheRoute, digest: Digest) -> bool:
        """A blob another repository holds is linked here once upstream confirms this repository has
        it too (a HEAD): no bytes move, and no repository serves what its upstream would not."""
        if not await self._meta.repositories_with_blob(str(digest), 1):
            return False
        if await self._meta.repository_blob_size(route.local, str(digest)) is not None:
            return True  # a download into this repository ended meanwhile: upstream vouched already
        try:
            size = await route.upstream.client.head_blob(route.repository, digest)
        except RemoteError as error:
            raise upstream_failure(route.upstream, error) from None
        if size is None:
            raise _unknown(digest)
        return await self._meta.link_cached_blob(route.local, str(digest))

    async def _miss(self, route: CacheRoute, digest: Digest) -> BlobSource:
        """The blob from its download in progress (this process's, or another's), or stored if the
        download ended meanwhile."""
        key = _key(route, digest)
        while True:
            stored = None if key in self._fills else await self._linked(route, digest)
            if stored is not None:
                return stored
            found, joined = await self._lead(route, digest, key)
            if isinstance(found, Fill):
                if joined:
                    metrics.JOINS.labels(route.upstream.name, "process").inc()
                return StreamedBlob(await found.size(), functools.partial(self._read_fill, found))
            size = await self._announced_size(key)
            if size is not None:
                metrics.JOINS.labels(route.upstream.name, "instance").inc()
                return StreamedBlob(size, functools.partial(self._follow, route, digest, found))
            # That download ended before it began (it failed, or stored the blob): look again.

    async def _lead(self, route: CacheRoute, digest: Digest, key: str) -> tuple[Fill | FillLease, bool]:
        """This process's download of the blob (and whether it ran already), started now if the lease
        is free; else the lease of the process downloading it."""
        async with self._leases.local(key):
            fill = self._fills.get(key)
            if fill is not None:
                return fill, True
            lease = await self._meta.take_fill_lease(key, self._leases.owner, str(uuid.uuid4()), self._leases.seconds)
            if self._leases.mine(lease):
                return self._start(route, digest, lease), False
            return lease, False

    async def _announced_size(self, key: str) -> int | None:
        """The size another process's download learned from upstream, once it has (None if it ended)."""
        while (lease := await self._meta.fill_lease(key)) is not None:
            if lease.size is not None:
                return lease.size
            if lease.expires_at < time.time():
                return None
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
        return None

    async def _read_fill(self, fill: Fill, start: int, end: int) -> AsyncIterator[bytes]:
        return fill.read(self._store, start, end)

    # -- the download ------------------------------------------------------------------------------------
    def _start(self, route: CacheRoute, digest: Digest, lease: FillLease) -> Fill:
        fill = Fill(lease.key, lease.upload_id, digest)
        self._fills[lease.key] = fill
        task = asyncio.create_task(self._run(fill, route, lease))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fill

    async def _run(self, fill: Fill, route: CacheRoute, lease: FillLease) -> None:
        upstream = route.upstream.name
        try:
            async with self._leases.renewed(lease):
                stored = await self._meta.repository_blob_size(route.local, str(fill.digest))
                if stored is not None:  # by the previous lease's owner, since this process looked
                    fill.started(stored)
                    fill.finished(verified=True, committed=True)
                    return
                await self._download(fill, route, lease)
            metrics.FILLS.labels(upstream, "stored").inc()
        except BaseException as error:
            fill.failed(_as_client_error(route, error))
            metrics.FILLS.labels(upstream, "failed").inc()
            if not isinstance(error, asyncio.CancelledError):
                log.warning("downloading %s of %s failed: %s", fill.digest, route.local, error)
            await asyncio.shield(self._discard(fill.upload_id))
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            self._fills.pop(fill.key, None)

    async def _download(self, fill: Fill, route: CacheRoute, lease: FillLease) -> None:
        # The session row and bytes area are made while upstream is asked: neither waits for the other.
        prepared = asyncio.ensure_future(self._prepare(fill.upload_id, route.local))
        try:
            async with route.upstream.client.get_blob(route.repository, fill.digest) as stream:
                fill.started(stream.size)
                receiving = asyncio.ensure_future(fill.receive(stream.chunks))
                try:
                    await prepared
                    await self._meta.renew_fill_lease(lease.key, lease.owner, self._leases.seconds, stream.size)
                    hasher = new_hasher(fill.digest.algorithm)
                    await self._store_pieces(fill, stream.size, hasher)
                    await receiving
                finally:
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
        finally:
            prepared.cancel()
            await asyncio.gather(prepared, return_exceptions=True)
        actual = Digest(fill.digest.algorithm, hasher.hexdigest())
        if actual != fill.digest:
            raise RemoteInvalid(route.upstream.url, f"blob {fill.digest} arrived with digest {actual}")
        fill.finished(verified=True)
        if not await claim_digest(self._meta, fill.upload_id, str(fill.digest)):
            raise Unavailable("an older copy of this blob is still being deleted; retry shortly")
        await self._store.commit_upload(fill.upload_id, fill.digest, stream.size)
        filled = Filled(route.local, str(fill.digest), None, stream.size, kind="blobs")
        entries = self._events.entries(filled)
        await self._meta.finish_blob_fill(lease, route.local, str(fill.digest), stream.size, entries)
        self._events.written(entries)
        fill.finished(committed=True)

    async def _prepare(self, upload_id: str, repository: str) -> None:
        """The upload session's row first, then its bytes area: bytes never exist without a row. No
        sync along the way: a download cut by a crash is fetched again, and its commit syncs."""
        await self._meta.create_upload(upload_id, repository)
        await self._store.start_upload(upload_id, durable=False)

    async def _store_pieces(self, fill: Fill, size: int, hasher: Hasher) -> None:
        """Append the received bytes in pieces, each readable by other processes once stored."""
        offset = 0
        while offset < size:
            piece = fill.unstored(offset, min(PIECE_BYTES, size - offset))
            offset = await self._store.append_upload(fill.upload_id, offset, piece, hasher, durable=False)
            fill.stored(offset)

    async def _discard(self, upload_id: str) -> None:
        try:
            await self._store.abort_upload(upload_id)
            await self._meta.delete_upload(upload_id)
        except Exception:  # the purge of abandoned uploads removes it later
            log.warning("discarding the upload of a failed download failed", exc_info=True)

    # -- following another process's download --------------------------------------------------------
    async def _follow(
        self, route: CacheRoute, digest: Digest, lease: FillLease, start: int, end: int
    ) -> AsyncIterator[bytes]:
        return self._followed(route, digest, lease, start, end)

    async def _followed(
        self, route: CacheRoute, digest: Digest, lease: FillLease, start: int, end: int
    ) -> AsyncIterator[bytes]:
        position = start
        while position < end:
            current = await self._meta.fill_lease(lease.key)
            if current is None or current.upload_id != lease.upload_id:
                # Ended (stored, or failed), or taken over: go on from whatever exists now.
                async for chunk in await self._rest(route, digest, position, end):
                    position += len(chunk)
                    yield chunk
                return
            if current.expires_at < time.time():
                await self._take_over(route, digest, current)
                continue
            chunk = await self._stored_upload(current, position, end)
            if chunk:
                position += len(chunk)
                yield chunk
            else:
                await asyncio.sleep(FOLLOW_POLL_SECONDS)

    async def _rest(self, route: CacheRoute, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
        source = await self._miss(route, digest)
        if isinstance(source, StreamedBlob):
            return await source.open(start, end)
        return read_blob(self._store, digest, start, end)

    async def _stored_upload(self, lease: FillLease, position: int, end: int) -> bytes:
        """The next bytes of another process's upload at `position` (b"" when none yet); the last
        byte only comes from the committed blob."""
        assert lease.size is not None
        limit = min(end, lease.size - 1)
        stored = await self._store.upload_size(lease.upload_id)
        if stored is None or position >= min(stored, limit):
            return b""
        try:
            reading = self._store.read_upload(lease.upload_id, position)
            async with contextlib.aclosing(reading) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    return bytes(chunk[: min(stored, limit) - position])
        except UnknownUpload:
            pass
        return b""

    async def _take_over(self, route: CacheRoute, digest: Digest, expired: FillLease) -> None:
        """The download's owner stopped renewing its lease (it died): start it anew here."""
        found, _ = await self._lead(route, digest, expired.key)
        if isinstance(found, Fill) and found.upload_id != expired.upload_id:
            log.info("took over the download of %s into %s from %s", digest, route.local, expired.owner)
            await self._discard(expired.upload_id)


def _as_client_error(route: CacheRoute, error: BaseException) -> BaseException:
    """What a client reading the failed download is told (its body breaks off; a client that had not
    started gets it as its answer)."""
    if isinstance(error, RemoteNotFound):
        return RegistryError(ErrorCode.BLOB_UNKNOWN, f"upstream {route.upstream.name} does not have this blob")
    if isinstance(error, RemoteError):
        return upstream_failure(route.upstream, error)
    if isinstance(error, RegistryError):
        return error
    return Unavailable(f"downloading from upstream {route.upstream.name} failed ({type(error).__name__})", 502)
