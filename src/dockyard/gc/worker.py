"""The background work every server process runs: GC reviews as they fall due, byte deletions, the
purge of abandoned upload sessions, and now and then a sweep of the blob store for bytes that crashes
left without metadata. Whatever writes pauses in read-only mode.

Any number of these may run against one metadata store, on one machine or many: the store
hands each due review and each deletion to one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from dockyard.audit.purge import PURGE_INTERVAL_SECONDS, purge
from dockyard.audit.trail import RETENTION, dockyard_entry
from dockyard.blobs.base import BlobStore
from dockyard.config.settings import Gc, Settings
from dockyard.gc import metrics
from dockyard.gc.collector import Collector, CollectorStore
from dockyard.gc.fsck import CheckerStore, scrub_forever
from dockyard.gc.retention import Retention, RetentionStore, describe
from dockyard.meta.audit import AuditLog
from dockyard.meta.runtime_settings import RuntimeSettings
from dockyard.registry.pulls import PullLog
from dockyard.registry.uploads import UploadService
from dockyard.telemetry.failures import log_failure
from dockyard.telemetry.periodic import every

log = logging.getLogger(__name__)

_ERROR_PAUSE_SECONDS = 5.0
_QUEUE_COUNT_SECONDS = 30.0


class MaintenanceStore(CollectorStore, CheckerStore, RetentionStore, RuntimeSettings, AuditLog, Protocol):
    """Everything the background maintenance works on, and the read-only switch that pauses it."""


async def run_maintenance(
    meta: MaintenanceStore, store: BlobStore, settings: Settings, pulls: PullLog, uploads: UploadService
) -> None:
    """Everything a server process does in the background for GC, retention, pull times, abandoned
    uploads and the audit log's own retention."""
    retention = Retention(meta, settings.retention)

    async def apply_retention() -> None:
        plans = await retention.apply()
        if plans:  # a run that deleted nothing is not worth an entry
            await meta.append_audit([dockyard_entry(RETENTION, describe(plans, dry_run=False)[-1])])

    stale_after = settings.uploads.stale_after_seconds

    async def paused() -> bool:
        """Read-only mode (configured or switched on at run time) stops every writer here."""
        return settings.read_only or await meta.read_only()

    await asyncio.gather(
        run_gc_worker(meta, store, settings.gc, paused),
        scrub_forever(meta, store, settings.gc.scrub_bytes_per_second),
        every(settings.gc.pull_flush_seconds, "recording pull times", pulls.flush, log, paused),
        every(settings.gc.retention_interval_seconds, "applying retention rules", apply_retention, log, paused),
        every(
            PURGE_INTERVAL_SECONDS,
            "purging the audit log",
            lambda: purge(meta, settings.audit.retention_days),
            log,
            paused,
        ),
        # Read-only mode keeps abandoned uploads too: it changes nothing, not even to tidy up.
        every(
            min(stale_after / 4, 3600),
            "purging abandoned uploads",
            lambda: uploads.purge_stale(stale_after),
            log,
            paused,
        ),
    )


async def run_gc_worker(
    meta: CollectorStore, store: BlobStore, settings: Gc, paused: Callable[[], Awaitable[bool]]
) -> None:
    """Collect garbage until cancelled, idling while `paused`; errors are logged and the work retried."""
    if not settings.enabled:
        return
    collector = Collector(meta, store, settings)
    next_sweep = time.monotonic() + settings.orphan_sweep_seconds
    next_count = 0.0
    while True:
        try:
            if await paused():
                await asyncio.sleep(settings.idle_seconds)
                continue
            busy = await _step(collector)
            if time.monotonic() >= next_count:
                # Counting a day's queue is not free on a big registry: now and then is enough.
                next_count = time.monotonic() + _QUEUE_COUNT_SECONDS
                metrics.observe_queue(await meta.gc_queue())
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.orphan_sweep_seconds
                orphans = await collector.sweep_orphans(collector.cutoff())
                if orphans:
                    log.info("queued %d orphaned blobs for deletion", len(orphans))
                    busy = True
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log_failure(log, "garbage collection (retried later)", error)
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
