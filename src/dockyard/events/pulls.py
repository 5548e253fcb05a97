"""Pull events: recorded in memory on the request path, stored in batches off it.

A pull writes nothing, so there is no transaction to put its event in, and a manifest GET costs
tens of microseconds: a pull event costs an append to a bounded list, and a flusher moves the
list into the outbox a few times a second. The guarantee is weaker than for writes: pulls still
in memory when a process dies are lost, and when the buffer is full (the store is slow or down)
further pulls are dropped and counted. Once in the outbox they are delivered like any event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from dockyard.events import metrics
from dockyard.events.envelope import Origin, Target
from dockyard.events.notifier import Notifier
from dockyard.meta.outbox import Outbox

log = logging.getLogger(__name__)

_FLUSH_SECONDS = 0.25
# Pull events serialized and stored at a time.
_CHUNK = 256


class PullRecorder:
    def __init__(self, notifier: Notifier, meta: Outbox, capacity: int):
        self._notifier = notifier
        self._meta = meta
        self._capacity = capacity
        self._buffer: list[tuple[float, Target, Origin]] = []
        self._full = asyncio.Event()
        self._unsure = False
        """The last read-only check failed."""

    def wants(self, repository: str) -> bool:
        return bool(self._notifier.subscribers("pull", repository))

    def record(self, target: Target, origin: Origin) -> None:
        """Never waits and never grows past the capacity."""
        if len(self._buffer) >= self._capacity:
            self._count_dropped([target])
            return
        self._buffer.append((time.time(), target, origin))
        if len(self._buffer) >= self._capacity // 2:
            self._full.set()

    def _count_dropped(self, targets: list[Target]) -> None:
        for target in targets:
            for endpoint in self._notifier.subscribers("pull", target.repository):
                metrics.DROPPED.labels(endpoint).inc()

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """Store the buffer a few times a second; while `paused` (read-only mode) it only fills,
        then drops."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), _FLUSH_SECONDS)
                self._full.clear()
                await self._flush_unless_paused(paused)
        finally:
            await self._flush_unless_paused(paused)  # on shutdown, what is buffered still reaches the outbox

    async def _flush_unless_paused(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """A store that fails when asked whether the registry is read-only costs one round, not the
        task: the events stay buffered for the next."""
        try:
            if await paused():
                return
        except Exception as error:
            if not self._unsure:  # once per outage, not a line per round
                log.warning("cannot tell whether the registry is read-only (%s); pull events wait in memory", error)
            self._unsure = True
            return
        self._unsure = False
        await self.flush()

    async def flush(self) -> None:
        recorded, self._buffer = self._buffer, []
        for start in range(0, len(recorded), _CHUNK):
            await self._store(recorded[start : start + _CHUNK])
            await asyncio.sleep(0)  # serializing thousands of events must not hold requests up

    async def _store(self, recorded: list[tuple[float, Target, Origin]]) -> None:
        entries = [
            entry
            for at, target, origin in recorded
            for entry in self._notifier.entries("pull", [target], origin, timestamp=at)
        ]
        try:
            await self._meta.append_outbox(entries)
        except Exception:
            log.exception("storing %d pull events failed; they are dropped", len(recorded))
            self._count_dropped([target for _, target, _ in recorded])
            return
        self._notifier.written(entries)
