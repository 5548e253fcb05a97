"""Garbage collection on the stores' interfaces: take due reviews, then delete the bytes.

Order is what makes it safe. A review deletes metadata only, in a transaction that re-checks
every reference; the blob's bytes are deleted after that commit, from a queue row that stays
until they are gone (so a crash in between only delays the deletion). An upload of the same
digest claims it before its bytes appear and waits for any such deletion to finish.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from dockyard.blobs.base import BlobStore
from dockyard.config.settings import Gc
from dockyard.core.digest import Digest
from dockyard.gc import metrics
from dockyard.gc.report import Report
from dockyard.meta.blob_deletions import BlobDeletion, BlobDeletions
from dockyard.meta.errors import WriteContention
from dockyard.meta.garbage_reviews import Collected, GarbageReviews

log = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 600.0
# The last deletion of a batch must still finish within the lease: a batch's deletions run side by
# side, a few at a time (each is a file removal and a directory sync, or an object store request).
_DELETIONS_PER_BATCH = 100
_DELETIONS_AT_ONCE = 8
_ORPHAN_BATCH = 500
# A dry run works in one transaction so that it sees cascades; this bounds it.
_DRY_RUN_MAX_REVIEWS = 1_000_000


class CollectorStore(GarbageReviews, BlobDeletions, Protocol):
    """Reviews that delete metadata, then the queue that deletes the bytes."""


@dataclass(frozen=True, slots=True)
class Pass:
    reviewed: int
    collected: list[Collected]


class Collector:
    def __init__(self, meta: CollectorStore, store: BlobStore, settings: Gc):
        self._meta = meta
        self._store = store
        self._settings = settings

    def cutoff(self, now: bool = False) -> float:
        """Reviews enqueued (and objects created) at or before this are due; `now` makes all due."""
        return math.inf if now else time.time() - self._settings.review_delay_seconds

    async def review_batch(self, cutoff: float) -> Pass:
        """One transaction of reviews. A batch touches rows that pushes touch too; when it keeps
        colliding with them (busy PostgreSQL, several instances) smaller batches get through."""
        size = self._settings.batch_size
        while True:
            try:
                outcome = await self._meta.review_garbage(cutoff, self._settings.untagged_manifests, size)
                break
            except WriteContention:
                if size == 1:
                    raise
                size = max(1, size // 4)
                log.info("garbage review contended; retrying with batches of %d", size)
        metrics.record(outcome.reviewed, outcome.collected)
        return Pass(outcome.reviewed, outcome.collected)

    async def delete_bytes(self) -> int:
        """Delete the bytes of blobs whose metadata is gone; failures are retried with backoff."""
        deleted = 0
        at_once = asyncio.Semaphore(_DELETIONS_AT_ONCE)

        async def delete(deletion: BlobDeletion) -> str | None:
            async with at_once:
                try:
                    await self._store.delete(Digest.parse(deletion.digest))
                except Exception:
                    backoff = min(_MAX_BACKOFF_SECONDS, 2.0**deletion.attempts)
                    log.warning("deleting blob %s failed; retrying in %.0fs", deletion.digest, backoff, exc_info=True)
                    metrics.DELETE_FAILURES.inc()
                    await self._meta.retry_blob_deletion(deletion.digest, time.time() + backoff)
                    return None
            return deletion.digest

        while batch := await self._meta.take_blob_deletions(
            _DELETIONS_PER_BATCH, self._settings.deletion_lease_seconds
        ):
            gone = [digest for digest in await asyncio.gather(*map(delete, batch)) if digest is not None]
            if gone:
                await self._meta.finish_blob_deletions(gone)
            deleted += len(gone)
        return deleted

    async def sweep_orphans(self, cutoff: float, dry_run: bool = False) -> list[Collected]:
        """Blob bytes with no metadata (a crash between rename and link), modified before `cutoff`."""
        found: list[Collected] = []
        candidates: list[tuple[str, int]] = []
        async for blob in self._store.list_blobs():
            if blob.modified <= cutoff:
                candidates.append((str(blob.digest), blob.size))
            if len(candidates) >= _ORPHAN_BATCH:
                found.extend(await self._orphans(candidates, dry_run))
                candidates = []
        if candidates:
            found.extend(await self._orphans(candidates, dry_run))
        metrics.record(0, found)
        return found

    async def _orphans(self, candidates: list[tuple[str, int]], dry_run: bool) -> list[Collected]:
        sizes = dict(candidates)
        if dry_run:
            orphaned = await self._meta.orphaned_blobs(list(sizes))
        else:
            orphaned = await self._meta.delete_orphans(candidates)
        return [Collected("blob", "", digest, sizes[digest]) for digest in orphaned]

    async def collect(self, now: bool = False, dry_run: bool = False) -> Report:
        """Everything due, once: what `dockyard gc` runs."""
        report = Report(dry_run)
        if dry_run:
            outcome = await self._meta.review_garbage(
                self.cutoff(now), self._settings.untagged_manifests, _DRY_RUN_MAX_REVIEWS, dry_run=True
            )
            report.add(outcome.collected)
        else:
            while (batch := await self.review_batch(self.cutoff(now))).reviewed:
                report.add(batch.collected)
        report.add(await self.sweep_orphans(self.cutoff(now), dry_run))
        if not dry_run:
            await self.delete_bytes()
        return report
