"""Connecting to the metadata store, closing it, and asking whether it answers."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class Lifecycle(Protocol):
    @abstractmethod
    async def start(self) -> None:
        """Connect; called once on the event loop that serves requests, before the first one."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the store answers a query (for readiness checks)."""
