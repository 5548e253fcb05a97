"""What operators ask of a running registry: is it ready, may it take writes, what does it hold."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from dockyard.blobs.base import BlobStore
from dockyard.meta.lifecycle import Lifecycle
from dockyard.meta.runtime_settings import RuntimeSettings
from dockyard.meta.uploads import Uploads
from dockyard.meta.usage import RepositoryUsage, Usage

READ_ONLY_MESSAGE = "registry is in read-only mode"


class OperationsStore(Lifecycle, RuntimeSettings, Uploads, Usage, Protocol):
    """Whether the store answers, the read-only switch, open uploads and usage, for operators."""


class OperationsService:
    def __init__(self, meta: OperationsStore, blobs: BlobStore, read_only: bool, ping_timeout: float, max_page: int):
        self._meta = meta
        self._blobs = blobs
        self._configured_read_only = read_only
        self._ping_timeout = ping_timeout
        self._max_page = max_page
        self._usage_snapshot: tuple[float, list[RepositoryUsage]] = (-float("inf"), [])

    async def unready(self) -> dict[str, str]:
        """The parts that do not answer within the timeout, each with the reason; empty when ready."""
        parts = {"metadata store": self._meta.ping, "blob store": self._blobs.ping}
        outcomes = await asyncio.gather(*(self._probe(ping) for ping in parts.values()))
        return {part: reason for part, reason in zip(parts, outcomes, strict=True) if reason is not None}

    async def _probe(self, ping: Callable[[], Awaitable[None]]) -> str | None:
        try:
            await asyncio.wait_for(ping(), self._ping_timeout)
        except TimeoutError:
            return f"no answer within {self._ping_timeout:g}s"
        except Exception as error:  # any failure means not ready; the reason is for the operator
            return f"{type(error).__name__}: {error}"
        return None

    async def read_only(self) -> bool:
        """Read-only by configuration, or switched so at runtime (`dockyard admin read-only on`)."""
        return self._configured_read_only or await self._meta.read_only()

    async def open_uploads(self) -> int:
        return await self._meta.count_uploads()

    def page_limit(self, n: int | None) -> int:
        return self._max_page if n is None else min(n, self._max_page)

    async def usage(self, limit: int, after: str | None) -> list[RepositoryUsage]:
        return await self._meta.repository_usage(limit, after)

    async def usage_of_all(self, max_age_seconds: float) -> list[RepositoryUsage]:
        """Every repository's usage, recomputed when the last walk is older than `max_age_seconds`
        (a walk is one indexed query per page, but scrapes come every few seconds)."""
        taken_at, usages = self._usage_snapshot
        if time.monotonic() - taken_at < max_age_seconds:
            return usages
        usages, after = [], None
        while page := await self._meta.repository_usage(self._max_page, after):
            usages.extend(page)
            after = page[-1].repository
        self._usage_snapshot = (time.monotonic(), usages)
        return usages
