"""A blob's download from upstream, as its readers in this process see it: the bytes arrive into a
window in memory, from which every reader takes them at once, and from which the download's writer
takes them for the blob store at its own pace; readers that fall behind the window read what the
blob store holds already (the upload, or the blob once committed).

The last byte is held back from every reader until the whole blob's digest has been verified, so a
client that receives a complete body has received the blob, never bytes that failed the check.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator

from dockyard.blobs.base import BlobStore, LocalFile, StreamedBlob, UnknownUpload
from dockyard.core.digest import Digest

WINDOW_BYTES = 16 << 20
"""The most recent bytes kept in memory for readers; older ones are read back from the blob store."""
_FILE_READ_BYTES = 1 << 20


class Window:
    """The most recent chunks of a stream, by offset."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._offsets: list[int] = []
        self.start = 0
        self.end = 0

    def append(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._offsets.append(self.end)
        self.end += len(chunk)

    def drop_before(self, offset: int) -> None:
        """Forget the chunks that end at or before `offset`."""
        kept = bisect.bisect_right(self._offsets, offset) - 1
        if kept > 0 and self._offsets[kept] <= offset:
            del self._chunks[:kept], self._offsets[:kept]
            self.start = self._offsets[0]
        if self._chunks and self.end <= offset:
            self._chunks.clear()
            self._offsets.clear()
            self.start = self.end

    def read(self, position: int, limit: int) -> bytes:
        """Bytes from `position` (inside the window) up to the end of its chunk or `limit`."""
        index = bisect.bisect_right(self._offsets, position) - 1
        chunk, offset = self._chunks[index], self._offsets[index]
        stop = min(len(chunk), limit - offset)
        return chunk if position == offset and stop == len(chunk) else chunk[position - offset : stop]


class Fill:
    """One download in progress in this process; the task that runs it calls the mutators."""

    def __init__(self, key: str, upload_id: str, digest: Digest):
        self.key = key
        self.upload_id = upload_id
        self.digest = digest
        self.window = Window()
        self.durable = 0
        """Bytes the upload holds (readable with `read_upload`)."""
        self.verified = False
        self.committed = False
        self.error: BaseException | None = None
        """Why the fill failed, as its readers are told."""
        self.broken: BaseException | None = None
        """Why the upstream's body broke off, for the fill's own writer."""
        self.readers = 0
        self._size: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- the download's side -------------------------------------------------------------------------------
    def started(self, size: int) -> None:
        self._size.set_result(size)

    async def receive(self, chunks: AsyncIterator[bytes]) -> None:
        """Take the upstream's bytes into the window as they arrive, up to `WINDOW_BYTES` ahead of
        what the blob store has: readers get them at once, whatever the store's pace."""
        try:
            async for chunk in chunks:
                self.window.append(chunk)
                self._wake()
                while self.window.end - self.durable > WINDOW_BYTES:
                    await self._changed
        except BaseException as error:
            self.broken = error
            self._wake()
            raise

    async def unstored(self, offset: int, length: int) -> AsyncIterator[bytes]:
        """The received bytes [offset, offset + length) for the blob store, as they arrive."""
        position, end = offset, offset + length
        while position < end:
            changed = self._changed
            if self.window.start <= position < self.window.end:
                chunk = self.window.read(position, end)
                position += len(chunk)
                yield chunk
            elif self.broken is not None:
                raise self.broken
            else:
                await changed

    def stored(self, offset: int) -> None:
        self.durable = offset
        self.window.drop_before(min(offset, self.window.end - WINDOW_BYTES))
        self._wake()

    def finished(self, *, verified: bool = False, committed: bool = False) -> None:
        self.verified = self.verified or verified
        self.committed = self.committed or committed
        if committed:
            self.window = Window()  # readers still reading take the blob from the store now
        self._wake()

    def failed(self, error: BaseException) -> None:
        self.error = error
        if not self._size.done():
            self._size.set_exception(error)
            self._size.exception()  # retrieved: nobody may be waiting for the size
        self._wake()

    def _wake(self) -> None:
        if not self._changed.done():
            self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()

    # -- the readers' side ---------------------------------------------------------------------------------
    async def size(self) -> int:
        """The blob's size, once upstream has answered (or its failure)."""
        return await asyncio.shield(self._size)

    @property
    def readable(self) -> int:
        """Bytes readers may have: all that arrived, less the last byte until the digest is verified."""
        if not self._size.done() or self._size.exception() is not None:
            return 0
        size = self._size.result()
        return size if self.verified else min(self.window.end, size - 1) if size else 0

    async def read(self, store: BlobStore, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) as they become readable: from memory, or from the store when behind."""
        position = start
        self.readers += 1
        try:
            while position < end:
                changed = self._changed
                if self.committed:
                    async for chunk in read_blob(store, self.digest, position, end):
                        position += len(chunk)
                        yield chunk
                    return
                if self.error is not None:
                    raise self.error
                readable = min(self.readable, end)
                if self.window.start <= position < readable:
                    chunk = self.window.read(position, readable)
                elif position < min(self.durable, readable):
                    chunk = await self._stored(store, position, min(self.durable, readable))
                else:
                    chunk = b""
                if not chunk:
                    await changed
                    continue
                position += len(chunk)
                yield chunk
        finally:
            self.readers -= 1

    async def _stored(self, store: BlobStore, position: int, limit: int) -> bytes:
        """The next stored bytes at `position` (b"" when the upload was committed meanwhile)."""
        try:
            reading = store.read_upload(self.upload_id, position)
            async with contextlib.aclosing(reading) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    return chunk[: limit - position]
        except UnknownUpload:
            pass  # committed since: the reader waits for the fill to say so
        return b""


async def read_blob(store: BlobStore, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
    """Bytes [start, end) of a stored blob."""
    source = await store.source(digest)
    if isinstance(source, LocalFile):
        loop = asyncio.get_running_loop()
        with open(source.path, "rb") as file:
            file.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = await loop.run_in_executor(None, file.read, min(_FILE_READ_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        return
    if isinstance(source, StreamedBlob):
        async for chunk in await source.open(start, end):
            yield chunk
        return
    skip, remaining = start, end - start  # a redirecting store: its plain read, skipping to `start`
    async for chunk in store.read(digest):
        piece = chunk[skip:] if skip else chunk
        skip = max(0, skip - len(chunk))
        if piece:
            yield piece[:remaining]
            remaining -= len(piece)
            if remaining <= 0:
                return
