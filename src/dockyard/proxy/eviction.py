"""Eviction: cached content not pulled for `keep_days`, and beyond `max_bytes` the least recently
pulled, loses the tags and holds that keep it; the online garbage collector then frees whatever
nothing else holds (never a second deleter).

`max_bytes` is compared with what the cache still holds (released content waits for GC, and is not
counted again); the bytes an item keeps are counted for each item that keeps them, so a pass may
release a little less than needed, and the next pass finishes the work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from dockyard.meta.cache import CacheItem, CacheState
from dockyard.proxy import metrics
from dockyard.proxy.upstreams import Upstream

log = logging.getLogger("dockyard.proxy")

_DAY = 86400.0
_BATCH = 500


class Eviction:
    def __init__(self, state: CacheState, upstreams: Sequence[Upstream]):
        self._state = state
        self._upstreams = tuple(upstreams)

    async def run(self, now: float | None = None) -> int:
        """One pass over every upstream; how many tags and holds were released."""
        now = time.time() if now is None else now
        released = 0
        for upstream in self._upstreams:
            released += await self._unpulled(upstream, now - upstream.settings.keep_days * _DAY)
            if upstream.settings.max_bytes is not None:
                released += await self._over_budget(upstream, upstream.settings.max_bytes)
        if released:
            log.info("eviction released %d cached tags and holds", released)
        return released

    async def _unpulled(self, upstream: Upstream, pulled_before: float) -> int:
        released = 0
        while items := await self._state.stale_cache_items(upstream.prefix, pulled_before, _BATCH):
            done = await self._release(upstream, items, "unpulled")
            released += done
            if done == 0 or len(items) < _BATCH:
                break
        return released

    async def _over_budget(self, upstream: Upstream, max_bytes: int) -> int:
        excess = await self._state.cached_bytes(upstream.prefix) - max_bytes
        if excess <= 0:
            return 0
        doomed = []
        for item in await self._state.cache_items_by_pull(upstream.prefix, _BATCH):
            if excess <= 0:
                break
            doomed.append(item)
            excess -= item.size
        return await self._release(upstream, doomed, "size")

    async def _release(self, upstream: Upstream, items: Sequence[CacheItem], reason: str) -> int:
        released = await self._state.release_cache_items(items)
        metrics.RELEASED.labels(upstream.name, reason).inc(released)
        return released
