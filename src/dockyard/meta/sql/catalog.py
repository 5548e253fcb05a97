"""The catalog: repository names in order, one indexed page at a time."""

from __future__ import annotations

from dockyard.meta.catalog import Catalog
from dockyard.meta.sql.core import SqlCore


class CatalogQueries(SqlCore, Catalog):
    async def list_repositories(self, limit: int, after: str | None) -> list[str]:
        rows = await self._read_all(
            "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", after or "", limit
        )
        return [name for (name,) in rows]
