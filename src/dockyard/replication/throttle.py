"""A rule's bandwidth limit: a token bucket that every blob transfer of the rule draws from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator

# Bytes that may go out at once after an idle moment: a second's worth.
_BURST_SECONDS = 1.0


class Throttle:
    def __init__(self, bytes_per_second: int):
        self._rate = bytes_per_second
        self._tokens = float(bytes_per_second) * _BURST_SECONDS
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def _take(self, count: int) -> None:
        async with self._lock:  # transfers queue for the bucket in turn, so they share it fairly
            now = time.monotonic()
            self._tokens = min(self._rate * _BURST_SECONDS, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= count
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self._rate)

    async def limit(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """The chunks, no faster than the rate; unlimited when the rate is 0."""
        async for chunk in chunks:
            if self._rate:
                await self._take(len(chunk))
            yield chunk
