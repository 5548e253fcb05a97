"""Garbage reviews: the schema's triggers enqueue a review of whatever a write may have released;
a review takes due ones, re-checks reachability inside the same transaction and deletes what
nothing holds. The bytes of deleted blobs go through `BlobDeletions`."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Collected:
    """Something garbage collection deleted (or, in a dry run, would delete)."""

    kind: str  # "manifest" or "blob"
    repository: str
    """The manifest's repository; for a blob, a repository whose link went with it ("" if none)."""
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    reviewed: int
    collected: list[Collected]


@dataclass(frozen=True, slots=True)
class GcQueue:
    manifest_reviews: int
    blob_reviews: int
    oldest_enqueued_at: float | None
    pending_deletions: int


class GarbageReviews(Protocol):
    @abstractmethod
    async def review_garbage(
        self, cutoff: float, delete_untagged: bool, max_reviews: int, dry_run: bool = False
    ) -> ReviewOutcome:
        """Work through up to `max_reviews` reviews enqueued at or before `cutoff`, in one transaction.

        Manifests: deleted when untagged (and `delete_untagged`), no index in their repository lists
        them, their subject (if any) is gone and they were created at or before `cutoff`. Blobs: links
        older than `cutoff` that no manifest of their repository references are dropped; a blob with
        no link left, no manifest referencing it, no upload session claiming it and created at or
        before `cutoff` is deleted and queued for byte deletion. A dry run rolls everything back.
        """

    @abstractmethod
    async def gc_queue(self) -> GcQueue: ...
