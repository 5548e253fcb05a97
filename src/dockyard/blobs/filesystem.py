"""Blobs as files: `blobs/<algorithm>/<2 hex>/<encoded>`, uploads as `uploads/<id>`.

Uploads are hashed and written in worker threads in batches while the next batch arrives, and the
kernel is asked to start writing back every few megabytes, so that the fsync before a blob
becomes visible has little left to do. A blob appears by an atomic rename of its fsynced
upload file, followed by an fsync of the directory: readers never see a partial blob.

Every chunk is fsynced before it is acknowledged, and then its end is recorded in
`uploads/<id>.size` (synced too): the size an upload reports is the recorded one. Bytes past it
were left by a writer that died before answering, and after a power cut they may hold zeroed
holes where pages never reached the disk; the next writer drops them. A session with no record
(begun before records were kept) reports its file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path

from dockyard import durable
from dockyard.blobs.base import BlobSource, BlobStore, LocalFile, StoredBlob, UnknownUpload, UploadConflict
from dockyard.core.digest import Digest, Hasher
from dockyard.core.errors import RegistryError
from dockyard.telemetry import metrics
from dockyard.telemetry.disk import check_room

_BATCH_BYTES = 2 << 20  # handed to a worker thread at a time
_GROUP_BYTES = 256 << 10  # hashed, then written in one call, while in the CPU's cache
_GROUP_CHUNKS = 512  # below IOV_MAX, the most buffers one pwritev takes
_WRITEBACK_BYTES = 32 << 20
_READ_BYTES = 1 << 20
_RECORD_DIGITS = 20  # fixed width: a record is rewritten in place, never changing its length


class _UploadWriter:
    """Hashes and writes one upload's batches at consecutive offsets, in worker threads, one batch at
    a time. Chunks are hashed, then written, a few hundred kilobytes at a time, while they are still
    in the CPU's cache: hashing and writing in turn on one thread costs less CPU than on two threads
    side by side, and the batch still overlaps the receiving of the next one."""

    def __init__(self, fd: int, offset: int, hasher: Hasher | None):
        self.fd = fd
        self.offset = offset
        self.unflushed_from = offset
        self._hasher = hasher

    def write(self, chunks: list[bytes]) -> None:
        group: list[bytes] = []
        group_bytes = 0
        for chunk in chunks:
            if self._hasher is not None:
                self._hasher.update(chunk)
            group.append(chunk)
            group_bytes += len(chunk)
            if group_bytes >= _GROUP_BYTES or len(group) >= _GROUP_CHUNKS:
                self._write_group(group, group_bytes)
                group, group_bytes = [], 0
        if group:
            self._write_group(group, group_bytes)
        if self.offset - self.unflushed_from >= _WRITEBACK_BYTES:
            # Starts asynchronous writeback of the range without waiting for it.
            os.posix_fadvise(self.fd, self.unflushed_from, self.offset - self.unflushed_from, os.POSIX_FADV_DONTNEED)
            self.unflushed_from = self.offset

    def _write_group(self, group: list[bytes], size: int) -> None:
        # One vectored write straight from the received buffers: no copy into a batch buffer.
        written = os.pwritev(self.fd, group, self.offset)
        if written < size:  # rare: a signal, or a full disk's last bytes
            view = memoryview(b"".join(group))
            while written < size:
                written += os.pwrite(self.fd, view[written:], self.offset + written)
        self.offset += size


async def _pump(chunks: AsyncIterable[bytes], sink: Callable[[list[bytes]], None]) -> None:
    """Feed chunks in batches to `sink` in a worker thread while the next batch is received.

    One batch at a time: it finishes before the next starts, so a failure leaves no thread behind
    still using the file.
    """
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    batch_bytes = 0
    try:
        async for chunk in chunks:
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= _BATCH_BYTES:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, sink, batch)
                batch, batch_bytes = [], 0
    finally:
        # Bytes that arrived are kept even if the body broke off: the client may resume.
        if pending is not None:
            await pending
        if batch_bytes:
            await loop.run_in_executor(None, sink, batch)


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path):
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._quarantine = root / "quarantine"
        durable.make_dirs(self._blobs)
        durable.make_dirs(self._uploads)
        self._settled: set[Path] = set()  # blob directories whose entries this process has synced

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        # In a thread: on a hung network file system the caller's timeout still answers.
        await asyncio.get_running_loop().run_in_executor(None, self._check_directories)

    def _check_directories(self) -> None:
        for directory in (self._blobs, self._uploads):
            os.close(os.open(directory, os.O_RDONLY | os.O_DIRECTORY))
        check_room(self._uploads)  # a read-only filesystem is named as such, not as a lack of permission
        if not os.access(self._uploads, os.W_OK):
            raise PermissionError(f"{self._uploads} is not writable")

    def _blob_path(self, digest: Digest) -> Path:
        # Digest.parse admits only hex encodings, so these parts cannot leave the data directory.
        return self._blobs / digest.algorithm / digest.encoded[:2] / digest.encoded

    def _upload_path(self, upload_id: str) -> Path:
        # Upload ids are generated by dockyard and checked against a strict pattern by the caller.
        return self._uploads / upload_id

    def _record_path(self, upload_id: str) -> Path:
        return self._uploads / f"{upload_id}.size"

    def _recorded_size(self, upload_id: str) -> int | None:
        """The acknowledged size of the upload, or None when it has no record."""
        try:
            text = self._record_path(upload_id).read_bytes()
        except FileNotFoundError:
            return None
        return int(text) if text else 0  # empty: created, nothing acknowledged yet

    def _reported_size(self, upload_id: str, file_size: int) -> int:
        recorded = self._recorded_size(upload_id)
        return file_size if recorded is None else min(file_size, recorded)

    def _record(self, upload_id: str, fd: int, size: int, synced: bool) -> None:
        """Record that the upload holds `size` bytes; `synced`: make them durable first, and the record after."""
        if synced:
            os.fsync(fd)
        try:
            record = os.open(self._record_path(upload_id), os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # finished or cancelled meanwhile, or begun without a record: its file's size stands
        try:
            os.pwrite(record, str(size).zfill(_RECORD_DIGITS).encode(), 0)
            if synced:
                os.fdatasync(record)
        finally:
            os.close(record)

    def _held_size(self, upload_id: str, fd: int) -> int:
        """The acknowledged size of an upload whose lock the caller holds; bytes past it are dropped."""
        size = os.fstat(fd).st_size
        recorded = self._recorded_size(upload_id)
        if recorded is None or recorded == size:
            return size
        if recorded < size:
            os.ftruncate(fd, recorded)  # made durable with the next chunk's fsync; the record rules till then
        return min(size, recorded)

    def _open_upload(self, upload_id: str, flags: int) -> int:
        try:
            return os.open(self._upload_path(upload_id), flags)
        except FileNotFoundError:
            raise UnknownUpload(upload_id) from None

    async def source(self, digest: Digest, vouched: bool = False) -> BlobSource | None:  # noqa: ARG002 - a stat is cheap
        path = self._blob_path(digest)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        return LocalFile(str(path), size)

    async def start_upload(self, upload_id: str, *, durable: bool = True) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._start, upload_id, durable)

    def _start(self, upload_id: str, synced: bool) -> None:
        """A session that ends within its request (not `synced`) needs no record: its file's size stands."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        os.close(os.open(self._upload_path(upload_id), flags, 0o644))
        if synced:
            try:
                self._create_record(upload_id, flags)
            except OSError:
                self._unlink_upload(upload_id)
                raise
            durable.fsync_dir(self._uploads)

    def _create_record(self, upload_id: str, flags: int) -> None:
        # Written at its full width now, so that each later record overwrites it in place: a disk
        # that fills up meanwhile still takes the size of the bytes a chunk stored.
        record = os.open(self._record_path(upload_id), flags, 0o644)
        try:
            os.write(record, b"0" * _RECORD_DIGITS)
        finally:
            os.close(record)

    async def upload_size(self, upload_id: str) -> int | None:
        try:
            size = os.stat(self._upload_path(upload_id)).st_size
        except FileNotFoundError:
            return None
        return self._reported_size(upload_id, size)

    @metrics.timed("blobs", "append")
    async def append_upload(
        self, upload_id: str, offset: int, chunks: AsyncIterable[bytes], hasher: Hasher | None, *, durable: bool = True
    ) -> int:
        fd = self._open_upload(upload_id, os.O_WRONLY)
        try:
            self._lock_exclusively(upload_id, fd)
            size = self._held_size(upload_id, fd)
            if size != offset:
                raise UploadConflict(size)
            writer = _UploadWriter(fd, offset, hasher)
            try:
                # On failure the caller drops the hasher: it may have seen bytes the file did not get.
                await _pump(chunks, writer.write)
            finally:
                # Bytes that arrived are kept even if the body broke off: the client may resume.
                if writer.offset > offset:
                    record = functools.partial(self._record, upload_id, fd, writer.offset, durable)
                    await asyncio.get_running_loop().run_in_executor(None, record)
            return writer.offset
        finally:
            os.close(fd)

    def _lock_exclusively(self, upload_id: str, fd: int) -> None:
        """Guard against two requests writing one upload at once, across processes too."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadConflict(self._reported_size(upload_id, os.fstat(fd).st_size)) from None

    async def read_upload(self, upload_id: str, start: int = 0) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            file = open(self._upload_path(upload_id), "rb")  # noqa: SIM115 - closed below, across awaits
        except FileNotFoundError:
            raise UnknownUpload(upload_id) from None
        with file:
            # Only the bytes the session reports: any past them are a torn remnant of a lost write.
            left = max(0, (await self.upload_size(upload_id) or 0) - start)
            file.seek(start)
            while left and (chunk := await loop.run_in_executor(None, file.read, min(left, _READ_BYTES))):
                left -= len(chunk)
                yield chunk

    @metrics.timed("blobs", "commit")
    async def commit_upload(self, upload_id: str, digest: Digest, size: int) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._commit, upload_id, digest, size)

    def _commit(self, upload_id: str, digest: Digest, size: int) -> None:
        source = self._upload_path(upload_id)
        target = self._blob_path(digest)
        fd = self._open_upload(upload_id, os.O_WRONLY)
        try:
            self._lock_exclusively(upload_id, fd)
            held = self._held_size(upload_id, fd)
            if held != size:
                raise UploadConflict(held)
            os.fsync(fd)
            self._settle(target.parent)
            # Same digest, same bytes: replacing a concurrent upload's file of this blob is harmless.
            os.rename(source, target)
            # Renaming a file onto another name of itself does nothing (after a cut that kept an
            # earlier rename's new name and not the removal of its old one): take the old name away.
            self._unlink_upload(upload_id)
        finally:
            os.close(fd)
        durable.fsync_dir(target.parent)  # the blob's name first: a cut in between leaves two names, not none
        durable.fsync_dir(self._uploads)

    def _settle(self, directory: Path) -> None:
        """Create a blob directory if need be, its entry synced (once per process: it is never removed)."""
        if directory not in self._settled:
            durable.make_dirs(directory)
            self._settled.add(directory)

    def _unlink_upload(self, upload_id: str) -> None:
        for path in (self._upload_path(upload_id), self._record_path(upload_id)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def abort_upload(self, upload_id: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._abort, upload_id)

    def _abort(self, upload_id: str) -> None:
        self._unlink_upload(upload_id)
        durable.fsync_dir(self._uploads)

    async def delete(self, digest: Digest) -> None:
        await asyncio.get_running_loop().run_in_executor(None, durable.remove, self._blob_path(digest))

    async def list_blobs(self) -> AsyncIterator[StoredBlob]:
        loop = asyncio.get_running_loop()
        for algorithm in await loop.run_in_executor(None, _subdirectories, self._blobs):
            for prefix in await loop.run_in_executor(None, _subdirectories, algorithm):
                for blob in await loop.run_in_executor(None, _blobs_in, algorithm.name, prefix):
                    yield blob

    async def read(self, digest: Digest) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        with open(self._blob_path(digest), "rb") as file:
            while chunk := await loop.run_in_executor(None, file.read, _READ_BYTES):
                yield chunk

    async def quarantine(self, digest: Digest) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._move_to_quarantine, digest)

    def _move_to_quarantine(self, digest: Digest) -> None:
        durable.make_dirs(self._quarantine)
        with contextlib.suppress(FileNotFoundError):
            durable.move(self._blob_path(digest), self._quarantine / f"{digest.algorithm}-{digest.encoded}")


def _subdirectories(path: Path) -> list[Path]:
    with os.scandir(path) as entries:
        return [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]


def _blobs_in(algorithm: str, directory: Path) -> list[StoredBlob]:
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                digest = Digest.parse(f"{algorithm}:{entry.name}")
                stat = entry.stat(follow_symlinks=False)
            except (RegistryError, FileNotFoundError):
                continue  # not a blob, or deleted while listing
            found.append(StoredBlob(digest, stat.st_size, stat.st_mtime))
    return found
