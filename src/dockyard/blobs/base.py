"""The one interface every blob backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from dockyard.core.digest import Digest, Hasher


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Blob bytes the server can send straight from a local file."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class StreamedBlob:
    """Blob bytes the server relays from elsewhere (an object store).

    `open(start, end)` asks for the bytes [start, end) and returns once the source has answered,
    so that a failure to read becomes an error response rather than a truncated body.
    """

    size: int
    open: Callable[[int, int], Awaitable[AsyncIterator[bytes]]]


@dataclass(frozen=True, slots=True)
class RedirectBlob:
    """Blob bytes the client fetches itself from a URL that needs no further credentials."""

    url: str


BlobSource = LocalFile | StreamedBlob | RedirectBlob


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob as the store holds it, whatever the metadata says."""

    digest: Digest
    size: int
    modified: float


class UploadConflict(Exception):
    """The upload's bytes are not where the caller expected: another write is running or the offset is off."""

    def __init__(self, current_size: int):
        super().__init__(f"upload holds {current_size} bytes")
        self.current_size = current_size


class UnknownUpload(Exception):
    """The upload has no bytes area: it was never started, or was completed or cancelled meanwhile."""


class BlobStore(ABC):
    """Stores blobs by digest. A blob is visible only once its bytes are complete and durable."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the store can be read and written (for readiness checks)."""

    @abstractmethod
    async def source(self, digest: Digest, vouched: bool = False) -> BlobSource | None:
        """Where to read a stored blob from, or None if its bytes are not here.

        `vouched`: the metadata store says the blob is complete here, so a store for which looking
        costs a request may answer without looking (a redirect to an object store's URL).
        """

    @abstractmethod
    async def start_upload(self, upload_id: str, *, durable: bool = True) -> None:
        """Open the upload's bytes area. `durable`: it survives a crash once this returns (the
        session's id goes to a client); False for a session that ends within one request."""

    @abstractmethod
    async def upload_size(self, upload_id: str) -> int | None:
        """Bytes received so far, or None when the upload has no bytes area (unknown or finished)."""

    @abstractmethod
    async def append_upload(
        self, upload_id: str, offset: int, chunks: AsyncIterable[bytes], hasher: Hasher | None, *, durable: bool = True
    ) -> int:
        """Write chunks at `offset`, which must be the upload's current size; return the new size.

        `durable`: the bytes survive a crash once this returns (a PATCH's 202 acknowledges them);
        False when a commit in the same request follows, which makes them durable itself.

        The hasher, if given, sees exactly the bytes written, in order, when this returns; after an
        exception its state is undefined and it must be dropped.
        Raises UploadConflict or UnknownUpload.
        """

    @abstractmethod
    def read_upload(self, upload_id: str, start: int = 0) -> AsyncIterator[bytes]:
        """The bytes received so far from `start` on: to rebuild a running digest, or to follow an
        upload another process is writing (whatever it appended before the call is there)."""

    @abstractmethod
    async def commit_upload(self, upload_id: str, digest: Digest, size: int) -> None:
        """Make the upload's bytes durable and visible as blob `digest`, atomically; or UnknownUpload.

        `size` is how many bytes the caller verified the digest of: an upload that holds any other
        number (a write slipped in after the check) raises UploadConflict and stays unpublished.
        """

    @abstractmethod
    async def abort_upload(self, upload_id: str) -> None: ...

    async def purge_stale(self, older_than: float) -> int:  # noqa: ARG002 - a store may keep no leftovers
        """Remove upload leftovers no session names any more (begun before `older_than`, epoch
        seconds), such as an object store's unfinished multipart uploads; return how many."""
        return 0

    # Maintenance: garbage collection, fsck and scrubbing.
    @abstractmethod
    async def delete(self, digest: Digest) -> None:
        """Remove the blob's bytes; nothing happens if they are not here."""

    @abstractmethod
    def list_blobs(self) -> AsyncIterator[StoredBlob]:
        """Every blob the store holds, in no particular order."""

    @abstractmethod
    def read(self, digest: Digest) -> AsyncIterator[bytes]:
        """The whole blob, in chunks; FileNotFoundError if it is not here."""

    @abstractmethod
    async def quarantine(self, digest: Digest) -> None:
        """Move the blob aside where it is kept for inspection but no longer served."""
