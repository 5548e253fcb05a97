"""Blob links and upload sessions."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dockyard.meta.base import OutboxEntry, UploadSession
from dockyard.meta.driver import Transaction
from dockyard.meta.sql.core import SqlCore, in_repository, insert_outbox, link


class BlobQueries(SqlCore):
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

    async def link_blob(self, repository: str, digest: str, size: int) -> None:
        async def run(tx: Transaction) -> None:
            await link(tx, repository, digest, size)

        await self._write(run)

    async def link_held_blob(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        async def run(tx: Transaction) -> bool:
            # Only a blob still held: garbage collection may have taken it since the caller looked.
            row = await tx.fetch_one("SELECT size FROM blobs WHERE digest = ?", (digest,))
            if row is not None:
                await link(tx, repository, digest, int(row[0]))
                await insert_outbox(tx, outbox)
            return row is not None

        return await self._write(run)

    async def unlink_blob(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        statement = in_repository("DELETE FROM repository_blobs WHERE digest = ?")
        return await self._delete(statement, digest, repository, outbox=outbox)

    # Upload sessions. Their rows never take part in manifest lookups: writes to them leave the
    # lookup cache alone.
    async def create_upload(self, upload_id: str, repository: str) -> None:
        now = time.time()
        await self._write_one(
            "INSERT INTO uploads (id, repository, created_at, updated_at) VALUES (?, ?, ?, ?)",
            upload_id,
            repository,
            now,
            now,
            invalidates=False,
        )

    async def get_upload(self, upload_id: str) -> UploadSession | None:
        row = await self._read_one("SELECT id, repository, updated_at FROM uploads WHERE id = ?", upload_id)
        return UploadSession(*row) if row else None

    async def touch_upload(self, upload_id: str) -> None:
        await self._write_one(
            "UPDATE uploads SET updated_at = ? WHERE id = ?", time.time(), upload_id, invalidates=False
        )

    async def delete_upload(self, upload_id: str) -> bool:
        return await self._write_one("DELETE FROM uploads WHERE id = ?", upload_id, invalidates=False) > 0

    async def finish_upload(
        self, upload_id: str, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        async def run(tx: Transaction) -> None:
            await link(tx, repository, digest, size)
            await tx.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            await insert_outbox(tx, outbox)

        await self._write(run)

    async def claim_stale_uploads(self, updated_before: float, limit: int) -> list[str]:
        # The claim renews the sessions' lease: other instances' purges now pass them by, and if
        # this one dies before discarding them they go stale again and are claimed anew.
        async def run(tx: Transaction) -> list[str]:
            rows = await tx.fetch_all(
                f"""UPDATE uploads SET updated_at = ? WHERE id IN (
                        SELECT id FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?
                        {self._dialect.skip_locked})
                    RETURNING id""",  # noqa: S608 - a dialect constant, no input
                (time.time(), updated_before, limit),
            )
            return [upload_id for (upload_id,) in rows]

        return await self._write(run, invalidates=False)
