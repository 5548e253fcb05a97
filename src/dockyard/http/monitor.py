"""Per-process tallies the event loop keeps for nearly nothing, published as metrics once a second.

Updating a Prometheus series in multiprocess mode takes a lock and writes a shared file; doing it
for bytes and in-flight counts on every request would cost the hot path more than the tallies
themselves. The loop also times its own timer here: how late it fires is the event-loop lag.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from dockyard.http import metrics
from dockyard.registry.metrics import UPLOAD_SESSIONS

log = logging.getLogger("dockyard.http")

_INTERVAL = 1.0
_UPLOADS_EVERY = 5  # intervals between counts of open upload sessions (a query)


class Monitor:
    def __init__(self, count_uploads: Callable[[], Awaitable[int]]):
        self._count_uploads = count_uploads
        self.in_flight = 0
        self._bytes: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])

    def answered(self, route: str, received: int, sent: int) -> None:
        tally = self._bytes[route]
        tally[0] += received
        tally[1] += sent

    async def run(self) -> None:
        ticks = 0
        while True:
            before = time.perf_counter()
            await asyncio.sleep(_INTERVAL)
            metrics.EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - before - _INTERVAL))
            self._publish()
            if ticks % _UPLOADS_EVERY == 0:
                await self._publish_uploads()
            ticks += 1

    async def _publish_uploads(self) -> None:
        try:
            UPLOAD_SESSIONS.set(await self._count_uploads())
        except Exception:  # the store may be down for a while; /readyz says so, this retries
            log.warning("counting open upload sessions failed", exc_info=True)

    def _publish(self) -> None:
        metrics.HTTP_IN_FLIGHT.set(self.in_flight)
        tallies, self._bytes = self._bytes, defaultdict(lambda: [0, 0])
        for route, (received, sent) in tallies.items():
            if received:
                metrics.HTTP_RECEIVED_BYTES.labels(route).inc(received)
            if sent:
                metrics.HTTP_SENT_BYTES.labels(route).inc(sent)
