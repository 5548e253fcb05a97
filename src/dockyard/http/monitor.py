"""Per-process tallies the event loop keeps for nearly nothing, published as metrics once a second.

Updating a Prometheus series in multiprocess mode takes a lock, checks the process id and writes a
shared file: doing it for the request count, duration, bytes and in-flight count of every request
would cost a manifest GET more than answering it. The loop keeps plain counters instead and adds
them to the series once a second, and before /metrics is rendered, so that its own process's
figures are current there. The loop also times its own timer here: how late it fires is the
event-loop lag.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable

from dockyard.http import metrics
from dockyard.registry.metrics import UPLOAD_SESSIONS
from dockyard.telemetry.metrics import observe_many

log = logging.getLogger("dockyard.http")

_INTERVAL = 1.0
_UPLOADS_EVERY = 5  # intervals between counts of open upload sessions (a query)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
_BOUNDS = metrics.HTTP_DURATION_BUCKETS


class _Tally:
    """Requests of one method, route and status since the last publish."""

    __slots__ = ("buckets", "count", "received", "seconds", "sent")

    def __init__(self) -> None:
        self.count = 0
        self.received = 0
        self.sent = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(_BOUNDS) + 1)  # the last one is +Inf


class Monitor:
    def __init__(self, count_uploads: Callable[[], Awaitable[int]]):
        self._count_uploads = count_uploads
        self.in_flight = 0
        self._tallies: dict[tuple[str, str, int], _Tally] = {}

    def answered(self, method: str, route: str, status: int, seconds: float, *, received: int, sent: int) -> None:
        """Tally one answered request: `received` body bytes declared, `sent` body bytes."""
        # Methods are client input: anything unexpected is one series, so clients cannot grow the label space.
        key = (method if method in _METHODS else "OTHER", route, status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally()
        tally.count += 1
        tally.received += received
        tally.sent += sent
        tally.seconds += seconds
        tally.buckets[bisect.bisect_left(_BOUNDS, seconds)] += 1

    async def run(self) -> None:
        ticks = 0
        while True:
            before = time.perf_counter()
            await asyncio.sleep(_INTERVAL)
            metrics.EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - before - _INTERVAL))
            self.publish()
            if ticks % _UPLOADS_EVERY == 0:
                await self._publish_uploads()
            ticks += 1

    async def _publish_uploads(self) -> None:
        try:
            UPLOAD_SESSIONS.set(await self._count_uploads())
        except Exception:  # the store may be down for a while; /readyz says so, this retries
            log.warning("counting open upload sessions failed", exc_info=True)

    def publish(self) -> None:
        """Add what was tallied since the last call to the metrics."""
        metrics.HTTP_IN_FLIGHT.set(self.in_flight)
        tallies, self._tallies = self._tallies, {}
        for (method, route, status), tally in tallies.items():
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc(tally.count)
            observe_many(metrics.HTTP_DURATION.labels(route), tally.buckets, tally.seconds)
            if tally.received:
                metrics.HTTP_RECEIVED_BYTES.labels(route).inc(tally.received)
            if tally.sent:
                metrics.HTTP_SENT_BYTES.labels(route).inc(tally.sent)
