"""Garbage reviews: due reviews taken, reachability re-checked and deletions made in one transaction.

Every decision to delete is taken in the transaction that deletes, from the reference tables:
a concurrent push either commits first (and the re-check sees its reference) or after (and finds
the object gone, so it uploads again or fails cleanly). SQLite runs one writer at a time;
PostgreSQL runs writes SERIALIZABLE (retried on conflict), and workers on several instances take
review rows `FOR UPDATE SKIP LOCKED` so they pass each other's rows by.
"""

from __future__ import annotations

from dockyard.meta.driver import Transaction
from dockyard.meta.garbage_reviews import Collected, GarbageReviews, GcQueue, ReviewOutcome
from dockyard.meta.sql.blob_deletions import QUEUE_DELETION
from dockyard.meta.sql.core import SqlCore

# Untagged, listed by no index of its repository, no live subject, not held by the pull-through
# cache: collectable once old enough.
UNHELD_MANIFEST = """SELECT r.name, m.size, m.created_at FROM manifests m JOIN repositories r ON r.id = m.repository_id
    WHERE m.repository_id = ? AND m.digest = ?
    AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_children c
                    WHERE c.repository_id = m.repository_id AND c.child_digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject)
    AND NOT EXISTS (SELECT 1 FROM cache_holds h WHERE h.repository_id = m.repository_id AND h.digest = m.digest)"""
# Held for as long as a manifest references it, an upload session claims it or the pull-through
# cache holds it; what ends any of these enqueues a review.
_BLOB_HELD = """SELECT 1 WHERE EXISTS (SELECT 1 FROM manifest_blobs WHERE blob_digest = ?)
    OR EXISTS (SELECT 1 FROM gc_upload_claims WHERE digest = ?)
    OR EXISTS (SELECT 1 FROM cache_holds WHERE digest = ?)"""
_REVIEW_MANIFEST_AT = """INSERT INTO gc_manifest_reviews (repository_id, digest, enqueued_at) VALUES (?, ?, ?)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at"""
_REVIEW_BLOB_AT = """INSERT INTO gc_blob_reviews (digest, enqueued_at) VALUES (?, ?)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at"""


class _DryRun(Exception):
    """Raised at the end of a dry run's work so that the driver rolls it back."""

    def __init__(self, outcome: ReviewOutcome):
        super().__init__("dry run")
        self.outcome = outcome


class GarbageReviewQueries(SqlCore, GarbageReviews):
    async def review_garbage(
        self, cutoff: float, delete_untagged: bool, max_reviews: int, dry_run: bool = False
    ) -> ReviewOutcome:
        async def run(tx: Transaction) -> ReviewOutcome:
            if self._dialect.review_lock:
                await tx.execute(self._dialect.review_lock)
            outcome = await self._review(tx, cutoff, delete_untagged, max_reviews)
            if dry_run:
                raise _DryRun(outcome)
            return outcome

        try:
            return await self._write(run)
        except _DryRun as dry:
            return dry.outcome

    async def _review(self, tx: Transaction, cutoff: float, delete_untagged: bool, max_reviews: int) -> ReviewOutcome:
        """Take due reviews until none is left or `max_reviews` were done; reviews that cascades
        enqueued and that are due already (with an infinite cutoff) are taken in the same call."""
        collected: list[Collected] = []
        reviewed = 0
        while reviewed < max_reviews:
            manifests = await tx.fetch_all(
                f"""SELECT repository_id, digest FROM gc_manifest_reviews WHERE enqueued_at <= ?
                    ORDER BY enqueued_at LIMIT ? {self._dialect.skip_locked}""",  # noqa: S608 - a dialect constant
                (cutoff, max_reviews - reviewed),
            )
            for repository_id, digest in manifests:
                await tx.execute(
                    "DELETE FROM gc_manifest_reviews WHERE repository_id = ? AND digest = ?", (repository_id, digest)
                )
                if delete_untagged:
                    collected.extend(await _review_manifest(tx, repository_id, digest, cutoff))
            reviewed += len(manifests)
            blobs = await tx.fetch_all(
                f"""SELECT digest FROM gc_blob_reviews WHERE enqueued_at <= ?
                    ORDER BY enqueued_at LIMIT ? {self._dialect.skip_locked}""",  # noqa: S608 - a dialect constant
                (cutoff, max(0, max_reviews - reviewed)),
            )
            for (digest,) in blobs:
                await tx.execute("DELETE FROM gc_blob_reviews WHERE digest = ?", (digest,))
                collected.extend(await _review_blob(tx, digest, cutoff))
            reviewed += len(blobs)
            if not manifests and not blobs:
                break
        return ReviewOutcome(reviewed, collected)

    async def gc_queue(self) -> GcQueue:
        row = await self._read_one(
            """SELECT (SELECT count(*) FROM gc_manifest_reviews), (SELECT count(*) FROM gc_blob_reviews),
                      (SELECT min(enqueued_at) FROM gc_manifest_reviews),
                      (SELECT min(enqueued_at) FROM gc_blob_reviews),
                      (SELECT count(*) FROM gc_blob_deletions)"""
        )
        assert row is not None
        manifests, blobs, oldest_manifest, oldest_blob, deletions = row
        oldest = [at for at in (oldest_manifest, oldest_blob) if at is not None]
        return GcQueue(int(manifests), int(blobs), min(oldest) if oldest else None, int(deletions))


async def _review_manifest(tx: Transaction, repository_id: int, digest: str, cutoff: float) -> list[Collected]:
    row = await tx.fetch_one(UNHELD_MANIFEST, (repository_id, digest))
    if row is None:
        return []  # gone, or held: whatever releases it enqueues a new review
    name, size, created_at = row
    if created_at > cutoff:
        # Too young (the review was due by another clock): look again once it is not.
        await tx.execute(_REVIEW_MANIFEST_AT, (repository_id, digest, created_at))
        return []
    # Its references and children go with it, and triggers enqueue reviews of them and of its referrers.
    await tx.execute("DELETE FROM manifests WHERE repository_id = ? AND digest = ?", (repository_id, digest))
    return [Collected("manifest", name, digest, int(size))]


async def _review_blob(tx: Transaction, digest: str, cutoff: float) -> list[Collected]:
    found = await tx.fetch_one("SELECT size, created_at FROM blobs WHERE digest = ?", (digest,))
    if found is None or await tx.fetch_one(_BLOB_HELD, (digest, digest, digest)):
        return []
    size, created_at = int(found[0]), float(found[1])
    # No manifest references the blob, so every link left is one without a manifest behind it.
    links = await tx.fetch_all(
        """SELECT rb.repository_id, r.name, rb.linked_at FROM repository_blobs rb
           JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ?""",
        (digest,),
    )
    dropped = [(repository_id, name) for repository_id, name, linked_at in links if linked_at <= cutoff]
    for repository_id, _ in dropped:
        await tx.execute("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?", (repository_id, digest))
    youngest = max([created_at, *(float(linked_at) for _, _, linked_at in links)])
    if youngest > cutoff:
        # A young link holds it (a push in progress), or it is young itself: look again when not.
        await tx.execute(_REVIEW_BLOB_AT, (digest, youngest))
        return []
    await tx.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
    await tx.execute(QUEUE_DELETION, (digest, size))
    return [Collected("blob", dropped[0][1] if dropped else "", digest, size)]
