"""Tag lists, the catalog and referrers: paged, indexed queries."""

from __future__ import annotations

from typing import Any

from dockyard.meta.base import Referrer
from dockyard.meta.sql.core import SqlCore


class ListingQueries(SqlCore):
    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        row = await self._read_one("SELECT id FROM repositories WHERE name = ?", repository)
        if row is None:
            return None
        rows = await self._read_all(
            "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
            row[0],
            after or "",
            limit,
        )
        return [name for (name,) in rows]

    async def list_repositories(self, limit: int, after: str | None) -> list[str]:
        rows = await self._read_all(
            "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", after or "", limit
        )
        return [name for (name,) in rows]

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
