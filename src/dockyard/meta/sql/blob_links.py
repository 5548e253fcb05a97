"""Blob links: which blobs each repository may serve."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.meta.blob_links import BlobLinks
from dockyard.meta.driver import Transaction
from dockyard.meta.records import WriteRecord
from dockyard.meta.sql.core import SqlCore, in_repository, insert_records, link


class BlobLinkQueries(SqlCore, BlobLinks):
    async def repository_blob_size(self, repository: str, digest: str) -> int | None:
        row = await self._read_one(
            """SELECT b.size FROM repositories r
               JOIN repository_blobs rb ON rb.repository_id = r.id
               JOIN blobs b ON b.digest = rb.digest
               WHERE r.name = ? AND rb.digest = ?""",
            repository,
            digest,
        )
        return row[0] if row else None

    async def repositories_with_blob(self, digest: str, limit: int) -> list[tuple[str, int]]:
        rows = await self._read_all(
            """SELECT r.name, b.size FROM repository_blobs rb
               JOIN repositories r ON r.id = rb.repository_id
               JOIN blobs b ON b.digest = rb.digest
               WHERE rb.digest = ? ORDER BY r.name LIMIT ?""",
            digest,
            limit,
        )
        return [(name, size) for name, size in rows]

    async def repository_blob_bytes(self, repository: str) -> int:
        row = await self._read_one(
            """SELECT COALESCE(SUM(b.size), 0) FROM repositories r
               JOIN repository_blobs rb ON rb.repository_id = r.id JOIN blobs b ON b.digest = rb.digest
               WHERE r.name = ?""",
            repository,
        )
        return int(row[0]) if row else 0

    async def link_blob(self, repository: str, digest: str, size: int) -> None:
        async def run(tx: Transaction) -> None:
            await link(tx, repository, digest, size)

        await self._write(run)

    async def link_held_blob(self, repository: str, digest: str, records: Sequence[WriteRecord] = ()) -> bool:
        async def run(tx: Transaction) -> bool:
            # Only a blob still held: garbage collection may have taken it since the caller looked.
            row = await tx.fetch_one("SELECT size FROM blobs WHERE digest = ?", (digest,))
            if row is not None:
                await link(tx, repository, digest, int(row[0]))
                await insert_records(tx, records)
            return row is not None

        return await self._write(run)

    async def unlink_blob(self, repository: str, digest: str, records: Sequence[WriteRecord] = ()) -> bool:
        statement = in_repository("DELETE FROM repository_blobs WHERE digest = ?")
        return await self._delete(statement, digest, repository, records=records)
