"""Garbage collection metrics, aggregated over worker processes like dockyard's others."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from dockyard.meta.garbage_reviews import Collected, GcQueue

REVIEWS = Counter("dockyard_gc_reviews", "GC reviews processed")
DELETED = Counter("dockyard_gc_deleted", "Objects garbage collection deleted", ["kind"])
BYTES_FREED = Counter("dockyard_gc_bytes_freed", "Bytes of blobs garbage collection deleted")
DELETE_FAILURES = Counter("dockyard_gc_delete_failures", "Blob byte deletions that failed and will be retried")
SCRUBBED_BYTES = Counter("dockyard_scrub_bytes", "Bytes of blobs re-hashed by fsck or the scrubber")
SCRUB_FAILURES = Counter("dockyard_scrub_failures", "Blobs found corrupt, missing or dangling", ["kind"])
SCRUB_PASSES = Counter("dockyard_scrub_passes", "Complete background scrub passes")
QUEUE_DEPTH = Gauge("dockyard_gc_queue_depth", "Reviews queued", ["kind"], multiprocess_mode="mostrecent")
QUEUE_LAG = Gauge(
    "dockyard_gc_queue_lag_seconds",
    "Age of the oldest queued review (the review delay included)",
    multiprocess_mode="mostrecent",
)


def record(reviewed: int, collected: Iterable[Collected]) -> None:
    REVIEWS.inc(reviewed)
    for item in collected:
        DELETED.labels(item.kind).inc()
        if item.kind == "blob":
            BYTES_FREED.inc(item.size)


def observe_queue(queue: GcQueue) -> None:
    QUEUE_DEPTH.labels("manifest").set(queue.manifest_reviews)
    QUEUE_DEPTH.labels("blob").set(queue.blob_reviews)
    QUEUE_DEPTH.labels("deletion").set(queue.pending_deletions)
    QUEUE_LAG.set(0.0 if queue.oldest_enqueued_at is None else max(0.0, time.time() - queue.oldest_enqueued_at))
