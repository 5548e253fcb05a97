"""What fsck and the scrubber read, and how a repair forgets a bad blob."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class Integrity(Protocol):
    @abstractmethod
    async def blob_page(self, after: str | None, limit: int) -> list[tuple[str, int]]:
        """(digest, size) of the blobs the registry holds, in digest order after `after`."""

    @abstractmethod
    async def dangling_references(self, limit: int) -> list[tuple[str, str, str]]:
        """(repository, manifest, blob) where a manifest references a blob the registry does not hold."""

    @abstractmethod
    async def forget_blob(self, digest: str, hold_seconds: float) -> bool:
        """Drop the blob's links and row so it reads as unknown and can be pushed again, and queue
        its bytes for deletion leased to the caller for `hold_seconds` (who moves them aside, then
        calls `BlobDeletions.finish_blob_deletions`); False if an upload in progress claims it."""
