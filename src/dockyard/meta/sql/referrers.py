"""Referrers: manifests by their subject, optionally of one artifact type (an indexed query)."""

from __future__ import annotations

from typing import Any

from dockyard.meta.referrers import Referrer, Referrers
from dockyard.meta.sql.core import SqlCore


class ReferrerQueries(SqlCore, Referrers):
    async def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]:
        sql = """SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
                 FROM repositories r JOIN manifests m ON m.repository_id = r.id
                 WHERE r.name = ? AND m.subject = ?"""
        params: tuple[Any, ...] = (repository, subject)
        if artifact_type is not None:
            sql += " AND m.artifact_type = ?"
            params += (artifact_type,)
        rows = await self._read_all(sql + " ORDER BY m.digest", *params)
        return [Referrer(*row) for row in rows]
