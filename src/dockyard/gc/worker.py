"""The background collector every server process runs: reviews as they fall due, byte deletions,
and now and then a sweep of the blob store for bytes that crashes left without metadata.

Any number of these may run against one metadata store, on one machine or many: the store
hands each due review and each deletion to one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from dockyard.blobs.base import BlobStore
from dockyard.config import Gc
from dockyard.gc import metrics
from dockyard.gc.collector import Collector
from dockyard.meta.base import MetadataStore

log = logging.getLogger(__name__)

_ERROR_PAUSE_SECONDS = 5.0


async def run_gc_worker(meta: MetadataStore, store: BlobStore, settings: Gc) -> None:
    """Collect garbage until cancelled; errors are logged and the work retried."""
    if not settings.enabled:
        return
    collector = Collector(meta, store, settings)
    next_sweep = time.monotonic() + settings.orphan_sweep_seconds
    while True:
        try:
            busy = await _step(collector)
            metrics.observe_queue(await meta.gc_queue())
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.orphan_sweep_seconds
                orphans = await collector.sweep_orphans(collector.cutoff())
                if orphans:
                    log.info("queued %d orphaned blobs for deletion", len(orphans))
                    busy = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("garbage collection failed; will retry")
            await asyncio.sleep(_ERROR_PAUSE_SECONDS)
            continue
        if not busy:
            await asyncio.sleep(settings.idle_seconds)


async def _step(collector: Collector) -> bool:
    """One batch of due reviews and the byte deletions it (or anyone) queued; True if any work was done."""
    batch = await collector.review_batch(collector.cutoff())
    deleted = await collector.delete_bytes()
    if batch.collected:
        log.info("garbage collection deleted %d objects", len(batch.collected))
    return batch.reviewed > 0 or deleted > 0
