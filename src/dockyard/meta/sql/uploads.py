"""Upload sessions, and the claim by which a finishing upload keeps GC off its digest.

Session rows never take part in manifest lookups: writes to them leave the lookup cache alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dockyard.meta.driver import Transaction
from dockyard.meta.records import WriteRecord
from dockyard.meta.sql.core import SqlCore, insert_records, link
from dockyard.meta.uploads import NO_LIMITS, SessionLimits, TooManySessions, Uploads, UploadSession

# COUNT(*) of at most `limit` rows: the count stops at the limit however many sessions there are.
_OPEN_IN = "SELECT COUNT(*) FROM (SELECT 1 FROM uploads WHERE {} = ? LIMIT ?) open_sessions"


class UploadQueries(SqlCore, Uploads):
    async def create_upload(
        self, upload_id: str, repository: str, owner: str | None = None, limits: SessionLimits = NO_LIMITS
    ) -> None:
        # Column and limit of each count; the counts and the insert are one write, and writes are
        # serializable (SQLite has one writer, PostgreSQL retries the loser of two that overlap), so
        # sessions opened at once on several instances never pass a limit together.
        checks = [("repository", repository, limits.per_repository), ("owner", owner, limits.per_owner)]

        async def run(tx: Transaction) -> None:
            for column, key, limit in checks:
                if key is None or limit <= 0:
                    continue
                row = await tx.fetch_one(_OPEN_IN.format(column), (key, limit))
                if row is not None and int(row[0]) >= limit:
                    raise TooManySessions(column, limit)
            now = time.time()
            await tx.execute(
                "INSERT INTO uploads (id, repository, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (upload_id, repository, owner, now, now),
            )

        await self._write(run, invalidates=False)

    async def get_upload(self, upload_id: str) -> UploadSession | None:
        row = await self._read_one("SELECT id, repository, updated_at FROM uploads WHERE id = ?", upload_id)
        return UploadSession(*row) if row else None

    async def touch_upload(self, upload_id: str) -> None:
        await self._write_one(
            "UPDATE uploads SET updated_at = ? WHERE id = ?", time.time(), upload_id, invalidates=False
        )

    async def delete_upload(self, upload_id: str) -> bool:
        return await self._write_one("DELETE FROM uploads WHERE id = ?", upload_id, invalidates=False) > 0

    async def claim_upload_digest(self, upload_id: str, digest: str) -> bool:
        async def run(tx: Transaction) -> bool:
            await tx.execute(
                """INSERT INTO gc_upload_claims (upload_id, digest) SELECT id, ? FROM uploads WHERE id = ?
                   ON CONFLICT (upload_id) DO UPDATE SET digest = excluded.digest""",
                (digest, upload_id),
            )
            return await tx.fetch_one("SELECT 1 FROM gc_blob_deletions WHERE digest = ?", (digest,)) is not None

        return await self._write(run, invalidates=False)

    async def finish_upload(
        self, upload_id: str, repository: str, digest: str, size: int, records: Sequence[WriteRecord] = ()
    ) -> None:
        async def run(tx: Transaction) -> None:
            await link(tx, repository, digest, size)
            await tx.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            await insert_records(tx, records)

        await self._write(run)

    async def count_uploads(self) -> int:
        row = await self._read_one("SELECT COUNT(*) FROM uploads")
        return int(row[0]) if row else 0

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
