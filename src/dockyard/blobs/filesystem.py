"""Blobs as files: `blobs/<algorithm>/<2 hex>/<encoded>`, uploads as `uploads/<id>`.

Uploads are written in the worker threads in batches while the next batch arrives, and the
kernel is asked to start writing back every few megabytes, so that the fsync before a blob
becomes visible has little left to do. A blob appears by an atomic rename of its fsynced
upload file, followed by an fsync of the directory: readers never see a partial blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path

from dockyard.blobs.base import BlobSource, BlobStore, LocalFile, StoredBlob, UnknownUpload, UploadConflict
from dockyard.core.digest import Digest, Hasher
from dockyard.core.errors import RegistryError
from dockyard.telemetry import metrics
from dockyard.telemetry.disk import check_room

_BATCH_BYTES = 1 << 20
_BATCH_CHUNKS = 512  # below IOV_MAX, the most buffers one pwritev takes
_WRITEBACK_BYTES = 32 << 20
_READ_BYTES = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs_durably(path: Path) -> None:
    """Create missing directories and fsync each new entry's parent, so a later rename survives a crash."""
    if path.is_dir():
        return
    _make_dirs_durably(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    _fsync_dir(path.parent)


class _UploadWriter:
    """Writes one upload's batches at consecutive offsets; runs in worker threads, one batch at a time."""

    def __init__(self, fd: int, offset: int):
        self.fd = fd
        self.offset = offset
        self.unflushed_from = offset

    def write(self, chunks: list[bytes]) -> None:
        # One vectored write straight from the received buffers: no copy into a batch buffer.
        size = sum(map(len, chunks))
        written = os.pwritev(self.fd, chunks, self.offset)
        if written < size:
            self._write_rest(memoryview(b"".join(chunks))[written:], self.offset + written)
        self.offset += size
        if self.offset - self.unflushed_from >= _WRITEBACK_BYTES:
            # Starts asynchronous writeback of the range without waiting for it.
            os.posix_fadvise(self.fd, self.unflushed_from, self.offset - self.unflushed_from, os.POSIX_FADV_DONTNEED)
            self.unflushed_from = self.offset

    def _write_rest(self, view: memoryview, position: int) -> None:
        while view:
            written = os.pwrite(self.fd, view, position)
            view, position = view[written:], position + written


def _hash_into(hasher: Hasher) -> Callable[[list[bytes]], None]:
    def update(chunks: list[bytes]) -> None:
        for chunk in chunks:
            hasher.update(chunk)

    return update


async def _pump(chunks: AsyncIterable[bytes], sinks: list[Callable[[list[bytes]], None]]) -> None:
    """Feed chunks in batches to every sink, each in its own thread, while the next batch is received.

    Hashing and writing a batch thus run side by side; both finish before the next batch starts,
    so a failure leaves no thread behind still using the file.
    """
    loop = asyncio.get_running_loop()

    async def deliver(batch: list[bytes]) -> None:
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(None, sink, batch) for sink in sinks), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    pending: asyncio.Task[None] | None = None
    batch: list[bytes] = []
    batch_bytes = 0
    try:
        async for chunk in chunks:
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= _BATCH_BYTES or len(batch) >= _BATCH_CHUNKS:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(deliver(batch))
                batch, batch_bytes = [], 0
    finally:
        # Bytes that arrived are kept even if the body broke off: the client may resume.
        if pending is not None:
            await pending
        if batch_bytes:
            await deliver(batch)


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path):
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._quarantine = root / "quarantine"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

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

    async def start_upload(self, upload_id: str) -> None:
        os.close(os.open(self._upload_path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

    async def upload_size(self, upload_id: str) -> int | None:
        try:
            return os.stat(self._upload_path(upload_id)).st_size
        except FileNotFoundError:
            return None

    @metrics.timed("blobs", "append")
    async def append_upload(
        self, upload_id: str, offset: int, chunks: AsyncIterable[bytes], hasher: Hasher | None
    ) -> int:
        fd = self._open_upload(upload_id, os.O_WRONLY)
        try:
            self._lock_exclusively(fd)
            size = os.fstat(fd).st_size
            if size != offset:
                raise UploadConflict(size)
            writer = _UploadWriter(fd, offset)
            # On failure the caller drops the hasher: it may have seen bytes the file did not get.
            await _pump(chunks, [writer.write] if hasher is None else [writer.write, _hash_into(hasher)])
            return writer.offset
        finally:
            os.close(fd)

    @staticmethod
    def _lock_exclusively(fd: int) -> None:
        """Guard against two requests writing one upload at once, across processes too."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadConflict(os.fstat(fd).st_size) from None

    async def read_upload(self, upload_id: str) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        with open(self._upload_path(upload_id), "rb") as file:
            while chunk := await loop.run_in_executor(None, file.read, _READ_BYTES):
                yield chunk

    @metrics.timed("blobs", "commit")
    async def commit_upload(self, upload_id: str, digest: Digest, size: int) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._commit, upload_id, digest, size)

    def _commit(self, upload_id: str, digest: Digest, size: int) -> None:
        source = self._upload_path(upload_id)
        target = self._blob_path(digest)
        fd = self._open_upload(upload_id, os.O_RDONLY)
        try:
            self._lock_exclusively(fd)
            if os.fstat(fd).st_size != size:
                raise UploadConflict(os.fstat(fd).st_size)
            os.fsync(fd)
            _make_dirs_durably(target.parent)
            # Same digest, same bytes: replacing a concurrent upload's file of this blob is harmless.
            os.rename(source, target)
        finally:
            os.close(fd)
        _fsync_dir(target.parent)

    async def abort_upload(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._upload_path(upload_id))

    async def delete(self, digest: Digest) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._delete, digest)

    def _delete(self, digest: Digest) -> None:
        path = self._blob_path(digest)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

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
        _make_dirs_durably(self._quarantine)
        with contextlib.suppress(FileNotFoundError):
            os.rename(self._blob_path(digest), self._quarantine / f"{digest.algorithm}-{digest.encoded}")
            _fsync_dir(self._quarantine)


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
