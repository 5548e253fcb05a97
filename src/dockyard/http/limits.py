"""Limits on one request: how many header fields and bytes it may carry, and how long its body may
stall or take in all.

granian bounds the time to a complete header and the number of open connections; these are the
limits it leaves to the application. A body's clock costs one timer per idle period, not one per
chunk: at its deadline the timer finds out whether the body stalled, and otherwise sets itself again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import ErrorCode
from dockyard.http.errors import HTTPError


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_headers: int = 100
    max_header_bytes: int = 256 * 1024
    body_idle_seconds: float = 60.0
    body_total_seconds: float = 6 * 3600.0


def check_headers(headers: Any, limits: RequestLimits) -> None:
    """431 when the request carries more header fields or bytes than allowed."""
    fields = headers.items()
    if len(fields) > limits.max_headers:
        raise HTTPError(431, ErrorCode.UNSUPPORTED, f"more than {limits.max_headers} header fields")
    size = 0
    for name, value in fields:
        size += len(name) + len(value)
    if size > limits.max_header_bytes:
        raise HTTPError(431, ErrorCode.UNSUPPORTED, f"request headers larger than {limits.max_header_bytes} bytes")


class _BodyClock:
    """Cancels the reading task when it has waited `idle` seconds for the next chunk, or when the
    body's time runs out while it waits. Only a wait for the network is ever cancelled, never the
    reader's own work between chunks (writing, hashing); a wait that would begin after the body's
    time is up is refused instead."""

    def __init__(self, limits: RequestLimits):
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._limits = limits
        self._deadline = self._loop.time() + limits.body_total_seconds
        self._waiting_since: float | None = None
        self._expired: str | None = None
        self._timer = self._loop.call_at(self._next_check(self._loop.time()), self._check)

    def _next_check(self, now: float) -> float:
        return min((self._waiting_since or now) + self._limits.body_idle_seconds, self._deadline)

    def _check(self) -> None:
        now = self._loop.time()
        if self._waiting_since is not None:
            if now >= self._deadline:
                self._expire(self._too_long())
                return
            if now - self._waiting_since >= self._limits.body_idle_seconds:
                self._expire(f"the request body stalled: no byte for {self._limits.body_idle_seconds:g}s")
                return
        elif now >= self._deadline:
            return  # the next wait is refused before it begins
        self._timer = self._loop.call_at(self._next_check(now), self._check)

    def _too_long(self) -> str:
        return f"the request body took longer than {self._limits.body_total_seconds:g}s"

    def _expire(self, reason: str) -> None:
        self._expired = reason
        if self._task is not None:
            self._task.cancel()

    def begin_wait(self) -> None:
        if self._loop.time() >= self._deadline:
            raise _timed_out(self._too_long())
        self._waiting_since = self._loop.time()

    def end_wait(self) -> None:
        self._waiting_since = None

    def timed_out(self) -> HTTPError | None:
        """After the wait was cancelled: the error to answer if this clock cancelled it, else None
        (the cancellation came from elsewhere and goes on)."""
        task = asyncio.current_task()
        if self._expired is None or task is None:
            return None
        task.uncancel()
        return _timed_out(self._expired)

    def stop(self) -> None:
        self._timer.cancel()


def _timed_out(reason: str) -> HTTPError:
    return HTTPError(408, ErrorCode.BLOB_UPLOAD_INVALID, reason, [("connection", "close")])


async def timed_body(source: AsyncIterable[bytes], limits: RequestLimits) -> AsyncIterator[bytes]:
    """`source` chunk by chunk, ended with 408 when it stalls or takes too long."""
    clock = _BodyClock(limits)
    chunks = aiter(source)
    try:
        while True:
            clock.begin_wait()
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                timed_out = clock.timed_out()
                if timed_out is None:
                    raise
                raise timed_out from None
            clock.end_wait()
            yield chunk
    finally:
        clock.stop()
