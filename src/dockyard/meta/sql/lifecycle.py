"""Connecting and closing are the driver's; a ping is the cheapest query on a real table."""

from __future__ import annotations

from dockyard.meta.lifecycle import Lifecycle
from dockyard.meta.sql.core import SqlCore


class LifecycleQueries(SqlCore, Lifecycle):
    async def start(self) -> None:
        await self._driver.start()

    async def close(self) -> None:
        await self._driver.close()

    async def ping(self) -> None:
        await self._read_one("SELECT 1 FROM repositories LIMIT 1")
