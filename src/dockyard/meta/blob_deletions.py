"""Byte deletions: blobs whose metadata is gone wait in a queue until their bytes have left the
blob store; bytes the blob store holds without any metadata (orphans) join the same queue."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlobDeletion:
    """A blob whose metadata is gone and whose bytes must now leave the blob store."""

    digest: str
    size: int
    attempts: int


class BlobDeletions(Protocol):
    @abstractmethod
    async def take_blob_deletions(self, limit: int, lease_seconds: float) -> list[BlobDeletion]:
        """Due byte deletions, leased to the caller so no other worker takes them meanwhile."""

    @abstractmethod
    async def finish_blob_deletions(self, digests: Sequence[str]) -> None:
        """The bytes of these are gone from the blob store. May return before it is durable: a
        deletion a crash brings back is done again, and deleting bytes that are gone does nothing."""

    @abstractmethod
    async def retry_blob_deletion(self, digest: str, at: float) -> None: ...

    @abstractmethod
    async def blob_deletion_pending(self, digest: str) -> bool: ...

    @abstractmethod
    async def orphaned_blobs(self, digests: Sequence[str]) -> list[str]:
        """Those of `digests` without a blob row, an upload claim or a pending deletion."""

    @abstractmethod
    async def delete_orphans(self, blobs: Sequence[tuple[str, int]]) -> list[str]:
        """Queue byte deletion of those (digest, size) that are still orphaned; return their digests."""
