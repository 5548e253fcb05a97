"""Replication's metrics. Counters add up over processes; gauges read from the shared metadata
store are the same in every process, so the most recent reading of any process is the answer."""

from prometheus_client import Counter, Gauge

RUNS = Counter(
    "dockyard_replication_runs", "Finished runs of a rule, by trigger and result", ["rule", "trigger", "result"]
)
MANIFESTS = Counter("dockyard_replication_manifests", "Manifests copied by a rule", ["rule"])
BLOBS = Counter("dockyard_replication_blobs", "Blobs uploaded by a rule (mounted ones not counted)", ["rule"])
BLOB_MOUNTS = Counter(
    "dockyard_replication_blob_mounts", "Blobs a rule linked by a mount instead of sending them", ["rule"]
)
BYTES = Counter(
    "dockyard_replication_bytes", "Blob bytes a rule moved (sent again after a break: counted again)", ["rule"]
)
DELETIONS = Counter("dockyard_replication_deletions", "Tags and manifests a rule deleted on the other side", ["rule"])
ERRORS = Counter("dockyard_replication_errors", "Images, events or deletions a rule failed on", ["rule"])
EVENTS_DROPPED = Counter(
    "dockyard_replication_events_dropped",
    "Events of an event rule dropped unhandled: beyond max_pending_events",
    ["rule"],
)
EVENTS_FAILED = Counter(
    "dockyard_replication_events_failed", "Events of an event rule given up after max_event_retries failures", ["rule"]
)
PENDING = Gauge(
    "dockyard_replication_pending_events",
    "Events waiting for an event rule",
    ["rule"],
    multiprocess_mode="livemostrecent",
)
LAG = Gauge(
    "dockyard_replication_lag_seconds",
    "How far the other side may be behind: the age of the oldest waiting event (event rules), or the "
    "time since the last successful run began (other rules; absent before the first)",
    ["rule"],
    multiprocess_mode="livemostrecent",
)
LAST_RUN_FAILED = Gauge(
    "dockyard_replication_last_run_failed",
    "1 when the rule's last run failed or was partial, else 0",
    ["rule"],
    multiprocess_mode="livemostrecent",
)
LAST_SUCCESS = Gauge(
    "dockyard_replication_last_success_timestamp_seconds",
    "When the rule's last successful run finished",
    ["rule"],
    multiprocess_mode="livemostrecent",
)
