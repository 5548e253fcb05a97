"""The byte-deletion queue: leased to collectors, retried with backoff, joined by orphaned bytes.

A blob is orphaned when the blob store holds its bytes but no blob row, upload claim or pending
deletion mentions it (a crash between storing bytes and linking them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dockyard.meta.blob_deletions import BlobDeletion, BlobDeletions
from dockyard.meta.driver import Transaction
from dockyard.meta.sql.core import SqlCore

# Due at once; garbage reviews queue the bytes of the blobs they delete with it too.
QUEUE_DELETION = """INSERT INTO gc_blob_deletions (digest, size, attempts, next_attempt_at) VALUES (?, ?, 0, 0)
    ON CONFLICT (digest) DO NOTHING"""
_ORPHANED = """SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE digest = ?)
    AND NOT EXISTS (SELECT 1 FROM gc_upload_claims WHERE digest = ?)
    AND NOT EXISTS (SELECT 1 FROM gc_blob_deletions WHERE digest = ?)"""


class BlobDeletionQueries(SqlCore, BlobDeletions):
    async def take_blob_deletions(self, limit: int, lease_seconds: float) -> list[BlobDeletion]:
        async def run(tx: Transaction) -> list[BlobDeletion]:
            now = time.time()
            rows = await tx.fetch_all(
                f"""UPDATE gc_blob_deletions SET next_attempt_at = ? WHERE digest IN (
                        SELECT digest FROM gc_blob_deletions WHERE next_attempt_at <= ?
                        ORDER BY next_attempt_at LIMIT ? {self._dialect.skip_locked})
                    RETURNING digest, size, attempts""",  # noqa: S608 - a dialect constant
                (now + lease_seconds, now, limit),
            )
            return [BlobDeletion(digest, int(size), int(attempts)) for digest, size, attempts in rows]

        return await self._write(run, invalidates=False)

    async def finish_blob_deletions(self, digests: Sequence[str]) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute_many("DELETE FROM gc_blob_deletions WHERE digest = ?", [(digest,) for digest in digests])

        # A later durable commit (any push) makes this one durable too, in either engine's log.
        await self._write(run, invalidates=False, durable=False)

    async def retry_blob_deletion(self, digest: str, at: float) -> None:
        await self._write_one(
            "UPDATE gc_blob_deletions SET attempts = attempts + 1, next_attempt_at = ? WHERE digest = ?",
            at,
            digest,
            invalidates=False,
        )

    async def blob_deletion_pending(self, digest: str) -> bool:
        return await self._read_one("SELECT 1 FROM gc_blob_deletions WHERE digest = ?", digest) is not None

    async def orphaned_blobs(self, digests: Sequence[str]) -> list[str]:
        return [digest for digest in digests if await self._read_one(_ORPHANED, digest, digest, digest)]

    async def delete_orphans(self, blobs: Sequence[tuple[str, int]]) -> list[str]:
        async def run(tx: Transaction) -> list[str]:
            queued = []
            for digest, size in blobs:
                if await tx.fetch_one(_ORPHANED, (digest, digest, digest)):
                    await tx.execute(QUEUE_DELETION, (digest, size))
                    queued.append(digest)
            return queued

        return await self._write(run, invalidates=False)
