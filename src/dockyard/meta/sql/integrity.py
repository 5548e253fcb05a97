"""What fsck and the scrubber read from the metadata store, and how --repair forgets a bad blob."""

from __future__ import annotations

import time

from dockyard.meta.driver import Transaction
from dockyard.meta.integrity import Integrity
from dockyard.meta.sql.core import SqlCore


class IntegrityQueries(SqlCore, Integrity):
    async def blob_page(self, after: str | None, limit: int) -> list[tuple[str, int]]:
        rows = await self._read_all(
            "SELECT digest, size FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?", after or "", limit
        )
        return [(digest, int(size)) for digest, size in rows]

    async def dangling_references(self, limit: int) -> list[tuple[str, str, str]]:
        rows = await self._read_all(
            """SELECT r.name, mb.manifest_digest, mb.blob_digest FROM manifest_blobs mb
               JOIN repositories r ON r.id = mb.repository_id
               WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mb.blob_digest)
               ORDER BY r.name, mb.manifest_digest, mb.blob_digest LIMIT ?""",
            limit,
        )
        return [(name, manifest, blob) for name, manifest, blob in rows]

    async def forget_blob(self, digest: str, hold_seconds: float) -> bool:
        async def run(tx: Transaction) -> bool:
            if await tx.fetch_one("SELECT 1 FROM gc_upload_claims WHERE digest = ?", (digest,)):
                return False
            row = await tx.fetch_one("SELECT size FROM blobs WHERE digest = ?", (digest,))
            await tx.execute("DELETE FROM repository_blobs WHERE digest = ?", (digest,))
            await tx.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
            # As a pending deletion, leased to the caller: uploads of the digest wait until the bad
            # bytes are out of the way, and if the caller dies, GC deletes them.
            await tx.execute(
                """INSERT INTO gc_blob_deletions (digest, size, attempts, next_attempt_at) VALUES (?, ?, 0, ?)
                   ON CONFLICT (digest) DO NOTHING""",
                (digest, row[0] if row else 0, time.time() + hold_seconds),
            )
            return True

        return await self._write(run)
