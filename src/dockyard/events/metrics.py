"""Per-endpoint queue metrics. Counters add up over processes; the pending gauge is a count of
the shared outbox, so the most recent reading of any process is the answer."""

from prometheus_client import Counter, Gauge

PENDING = Gauge(
    "dockyard_events_pending",
    "Events in the outbox waiting for delivery",
    ["endpoint"],
    multiprocess_mode="livemostrecent",
)
DELIVERED = Counter("dockyard_events_delivered", "Events delivered to the endpoint", ["endpoint"])
FAILED = Counter("dockyard_events_failed", "Events given up after max_retries failed deliveries", ["endpoint"])
DROPPED = Counter(
    "dockyard_events_dropped",
    "Events dropped unsent: the oldest beyond max_pending, or pulls beyond the in-memory buffer",
    ["endpoint"],
)
ATTEMPTS_FAILED = Counter(
    "dockyard_event_deliveries_failed", "Delivery attempts (batches) the endpoint did not accept", ["endpoint"]
)
