"""What operators ask of the store: is it up, is the registry read-only, what does each repository hold."""

from __future__ import annotations

import time

from dockyard.meta.base import RepositoryUsage
from dockyard.meta.sql.core import SqlCore

# Another process's or instance's switch of read-only mode is seen within this long.
SETTINGS_CACHE_SECONDS = 1.0
_READ_ONLY = "read_only"
_SETTING = "SELECT value FROM settings WHERE name = ?"
_SET_SETTING = """INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"""
# One row per repository of the page; each linked blob counted once, and as shared when another
# repository links it too.
_REPOSITORY_USAGE = """
    SELECT r.name,
        (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id),
        (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id),
        COUNT(b.digest),
        COALESCE(SUM(b.size), 0),
        COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM repository_blobs other
            WHERE other.digest = rb.digest AND other.repository_id <> r.id) THEN b.size ELSE 0 END), 0)
    FROM (SELECT id, name FROM repositories WHERE name > ? ORDER BY name LIMIT ?) r
    LEFT JOIN repository_blobs rb ON rb.repository_id = r.id
    LEFT JOIN blobs b ON b.digest = rb.digest
    GROUP BY r.id, r.name ORDER BY r.name"""


class OperationsQueries(SqlCore):
    _read_only_state = False
    _read_only_expire = 0.0

    async def ping(self) -> None:
        await self._read_one("SELECT 1 FROM repositories LIMIT 1")

    async def read_only(self) -> bool:
        # Asked before every write and by background workers: a query a second at most.
        now = time.monotonic()
        if now > self._read_only_expire:
            row = await self._read_one(_SETTING, _READ_ONLY)
            self._read_only_state = row is not None and row[0] == "on"
            self._read_only_expire = now + SETTINGS_CACHE_SECONDS
        return self._read_only_state

    async def set_read_only(self, enabled: bool) -> None:
        await self._write_one(_SET_SETTING, _READ_ONLY, "on" if enabled else "off", time.time(), invalidates=False)
        self._read_only_state, self._read_only_expire = enabled, time.monotonic() + SETTINGS_CACHE_SECONDS

    async def count_uploads(self) -> int:
        row = await self._read_one("SELECT COUNT(*) FROM uploads")
        return int(row[0]) if row else 0

    async def repository_usage(self, limit: int, after: str | None) -> list[RepositoryUsage]:
        rows = await self._read_all(_REPOSITORY_USAGE, after or "", limit)
        # PostgreSQL sums into NUMERIC: every count and size is made an int.
        return [RepositoryUsage(name, *map(int, counts)) for name, *counts in rows]
