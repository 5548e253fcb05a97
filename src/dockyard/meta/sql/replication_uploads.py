"""Replication's unfinished uploads (meta/replication_uploads.py): one row per rule, repository
there and blob, written when an upload starts or its URL moves, removed when the blob is complete."""

from __future__ import annotations

import time

from dockyard.meta.driver import Transaction
from dockyard.meta.replication_uploads import STALE_UPLOAD_SECONDS, ReplicationUploads
from dockyard.meta.sql.core import SqlCore

_KEEP = """INSERT INTO replication_uploads (rule, repository, digest, location, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (rule, repository, digest)
    DO UPDATE SET location = excluded.location, updated_at = excluded.updated_at"""
_WHERE = "WHERE rule = ? AND repository = ? AND digest = ?"


class ReplicationUploadQueries(SqlCore, ReplicationUploads):
    async def replication_upload(self, rule: str, repository: str, digest: str) -> str | None:
        row = await self._read_one(f"SELECT location FROM replication_uploads {_WHERE}", rule, repository, digest)  # noqa: S608
        return None if row is None else str(row[0])

    async def keep_replication_upload(self, rule: str, repository: str, digest: str, location: str) -> None:
        async def work(tx: Transaction) -> None:
            now = time.time()
            await tx.execute("DELETE FROM replication_uploads WHERE updated_at < ?", (now - STALE_UPLOAD_SECONDS,))
            await tx.execute(_KEEP, (rule, repository, digest, location, now))

        await self._write(work, invalidates=False)

    async def drop_replication_upload(self, rule: str, repository: str, digest: str) -> None:
        await self._write_one(f"DELETE FROM replication_uploads {_WHERE}", rule, repository, digest, invalidates=False)  # noqa: S608
