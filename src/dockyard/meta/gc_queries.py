"""The garbage collector's transactions, as SQL run on a DB-API connection inside one transaction.

Every decision to delete is taken here, in the transaction that deletes, from the reference
tables: a concurrent push either commits first (and the re-check sees its reference) or after
(and finds the object gone, so it uploads or fails cleanly). On SQLite the single writer
serializes these transactions with every other write; on PostgreSQL the review rows are taken
`FOR UPDATE SKIP LOCKED` and the reviewed rows are locked before they are checked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from dockyard.meta.base import BlobDeletion, Collected, GcQueue, ReviewOutcome


class Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...


_DUE_MANIFEST_REVIEWS = """SELECT repository_id, digest FROM gc_manifest_reviews
    WHERE enqueued_at <= ? ORDER BY enqueued_at LIMIT ?"""
_DUE_BLOB_REVIEWS = "SELECT digest FROM gc_blob_reviews WHERE enqueued_at <= ? ORDER BY enqueued_at LIMIT ?"

# Untagged, listed by no index of its repository, no live subject, old enough.
_COLLECTABLE_MANIFEST = """SELECT r.name, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id
    WHERE m.repository_id = ? AND m.digest = ? AND m.created_at <= ?
    AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_children c
                    WHERE c.repository_id = m.repository_id AND c.child_digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject)"""

# A link holds a blob while a manifest of its repository references the blob, or while it is
# young: a push links its blobs before it sends the manifest that references them.
_UNHELD_LINKS = """SELECT rb.repository_id, r.name FROM repository_blobs rb
    JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ? AND rb.linked_at <= ?
    AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb
                    WHERE mb.repository_id = rb.repository_id AND mb.blob_digest = rb.digest)"""
_BLOB_HELD = """SELECT 1 WHERE EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?)
    OR EXISTS (SELECT 1 FROM manifest_blobs WHERE blob_digest = ?)
    OR EXISTS (SELECT 1 FROM gc_upload_claims WHERE digest = ?)"""
_QUEUE_DELETION = """INSERT INTO gc_blob_deletions (digest, size, attempts, next_attempt_at) VALUES (?, ?, 0, 0)
    ON CONFLICT (digest) DO NOTHING"""
_ORPHANED = """SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE digest = ?)
    AND NOT EXISTS (SELECT 1 FROM gc_upload_claims WHERE digest = ?)
    AND NOT EXISTS (SELECT 1 FROM gc_blob_deletions WHERE digest = ?)"""


class GcQueries:
    """The SQL of garbage collection for one engine; `lock_rows` is its row-locking suffix."""

    def __init__(self, lock_rows: str = "", skip_locked: str = ""):
        # Fixed suffixes of the engine, never input.
        self._due_manifests = _DUE_MANIFEST_REVIEWS + skip_locked
        self._due_blobs = _DUE_BLOB_REVIEWS + skip_locked
        self._lock_manifest = "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?" + lock_rows  # noqa: S608
        self._lock_blob = "SELECT size, created_at FROM blobs WHERE digest = ?" + lock_rows  # noqa: S608

    def review(self, conn: Connection, cutoff: float, delete_untagged: bool, max_reviews: int) -> ReviewOutcome:
        """Take due reviews until none is left or `max_reviews` were done; cascades that became
        due meanwhile (with an infinite cutoff) are taken in the same call."""
        collected: list[Collected] = []
        reviewed = 0
        while reviewed < max_reviews:
            manifests = conn.execute(self._due_manifests, (cutoff, max_reviews - reviewed)).fetchall()
            for repository_id, digest in manifests:
                if delete_untagged:
                    collected.extend(self._review_manifest(conn, repository_id, digest, cutoff))
                conn.execute(
                    "DELETE FROM gc_manifest_reviews WHERE repository_id = ? AND digest = ?", (repository_id, digest)
                )
            reviewed += len(manifests)
            blobs = conn.execute(self._due_blobs, (cutoff, max(0, max_reviews - reviewed))).fetchall()
            for (digest,) in blobs:
                collected.extend(self._review_blob(conn, digest, cutoff))
                # Triggers re-enqueued the blob when its links went; this review has just seen them.
                conn.execute("DELETE FROM gc_blob_reviews WHERE digest = ?", (digest,))
            reviewed += len(blobs)
            if not manifests and not blobs:
                break
        return ReviewOutcome(reviewed, collected)

    def _review_manifest(self, conn: Connection, repository_id: int, digest: str, cutoff: float) -> list[Collected]:
        locked = conn.execute(self._lock_manifest, (repository_id, digest)).fetchone()
        if locked is None:
            return []
        row = conn.execute(_COLLECTABLE_MANIFEST, (repository_id, digest, cutoff)).fetchone()
        if row is None:
            return []
        # References, children and (via triggers) reviews of the blobs, children and referrers follow.
        conn.execute("DELETE FROM manifests WHERE repository_id = ? AND digest = ?", (repository_id, digest))
        return [Collected("manifest", row[0], digest, int(row[1]))]

    def _review_blob(self, conn: Connection, digest: str, cutoff: float) -> list[Collected]:
        found = conn.execute(self._lock_blob, (digest,)).fetchone()
        if found is None:
            return []
        size, created_at = int(found[0]), float(found[1])
        dropped = conn.execute(_UNHELD_LINKS, (digest, cutoff)).fetchall()
        for repository_id, _ in dropped:
            conn.execute("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?", (repository_id, digest))
        if created_at > cutoff or conn.execute(_BLOB_HELD, (digest, digest, digest)).fetchone():
            return []
        conn.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        conn.execute(_QUEUE_DELETION, (digest, size))
        return [Collected("blob", dropped[0][1] if dropped else "", digest, size)]

    @staticmethod
    def take_deletions(conn: Connection, limit: int, lease_seconds: float) -> list[BlobDeletion]:
        now = time.time()
        rows = conn.execute(
            """SELECT digest, size, attempts FROM gc_blob_deletions WHERE next_attempt_at <= ?
               ORDER BY next_attempt_at LIMIT ?""",
            (now, limit),
        ).fetchall()
        for digest, _, _ in rows:
            conn.execute(
                "UPDATE gc_blob_deletions SET next_attempt_at = ? WHERE digest = ?", (now + lease_seconds, digest)
            )
        return [BlobDeletion(digest, int(size), int(attempts)) for digest, size, attempts in rows]

    @staticmethod
    def retry_deletion(conn: Connection, digest: str, at: float) -> None:
        conn.execute(
            "UPDATE gc_blob_deletions SET attempts = attempts + 1, next_attempt_at = ? WHERE digest = ?", (at, digest)
        )

    @staticmethod
    def claim_upload_digest(conn: Connection, upload_id: str, digest: str) -> bool:
        conn.execute(
            """INSERT INTO gc_upload_claims (upload_id, digest) SELECT id, ? FROM uploads WHERE id = ?
               ON CONFLICT (upload_id) DO UPDATE SET digest = excluded.digest""",
            (digest, upload_id),
        )
        return conn.execute("SELECT 1 FROM gc_blob_deletions WHERE digest = ?", (digest,)).fetchone() is not None

    @staticmethod
    def is_orphaned(conn: Connection, digest: str) -> bool:
        return conn.execute(_ORPHANED, (digest, digest, digest)).fetchone() is not None

    def delete_orphans(self, conn: Connection, blobs: Sequence[tuple[str, int]]) -> list[str]:
        queued = [digest for digest, _ in blobs if self.is_orphaned(conn, digest)]
        sizes = dict(blobs)
        for digest in queued:
            conn.execute(_QUEUE_DELETION, (digest, sizes[digest]))
        return queued

    @staticmethod
    def queue(conn: Connection) -> GcQueue:
        manifests, oldest_manifest = conn.execute(
            "SELECT count(*), min(enqueued_at) FROM gc_manifest_reviews"
        ).fetchone()
        blobs, oldest_blob = conn.execute("SELECT count(*), min(enqueued_at) FROM gc_blob_reviews").fetchone()
        (deletions,) = conn.execute("SELECT count(*) FROM gc_blob_deletions").fetchone()
        oldest = [at for at in (oldest_manifest, oldest_blob) if at is not None]
        return GcQueue(int(manifests), int(blobs), min(oldest) if oldest else None, int(deletions))
