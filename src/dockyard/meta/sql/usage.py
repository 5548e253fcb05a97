"""What each repository holds: one indexed query per page of repositories."""

from __future__ import annotations

from dockyard.meta.sql.core import SqlCore
from dockyard.meta.usage import RepositoryUsage, Usage

# One row per repository of the page; each linked blob counted once, and as shared when another
# repository links it too.
_REPOSITORY_USAGE = """
    SELECT r.name,
        (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id),
        r.tag_count,
        COUNT(b.digest),
        COALESCE(SUM(b.size), 0),
        COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM repository_blobs other
            WHERE other.digest = rb.digest AND other.repository_id <> r.id) THEN b.size ELSE 0 END), 0)
    FROM (SELECT id, name, tag_count FROM repositories WHERE name > ? ORDER BY name LIMIT ?) r
    LEFT JOIN repository_blobs rb ON rb.repository_id = r.id
    LEFT JOIN blobs b ON b.digest = rb.digest
    GROUP BY r.id, r.name, r.tag_count ORDER BY r.name"""


class UsageQueries(SqlCore, Usage):
    async def repository_usage(self, limit: int, after: str | None) -> list[RepositoryUsage]:
        rows = await self._read_all(_REPOSITORY_USAGE, after or "", limit)
        # PostgreSQL sums into NUMERIC: every count and size is made an int.
        return [RepositoryUsage(name, *map(int, counts)) for name, *counts in rows]
