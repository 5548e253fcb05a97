"""Prometheus metrics. With several worker processes, prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set up by the CLI before workers start) aggregates them."""

import functools
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from functools import cache
from typing import Any, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dockyard.meta.usage import RepositoryUsage

HTTP_REQUESTS = Counter("dockyard_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "dockyard_http_request_duration_seconds",
    "Time to answer an HTTP request (for downloads: until the response started)",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60),
)
BLOB_UPLOADS = Counter("dockyard_blob_uploads", "Blob uploads completed with bytes received")
BLOB_UPLOAD_BYTES = Counter("dockyard_blob_upload_bytes", "Bytes of completed blob uploads")
BLOB_MOUNTS = Counter("dockyard_blob_mounts", "Blobs mounted from another repository")
MANIFEST_PUSHES = Counter("dockyard_manifest_pushes", "Manifests stored", ["media_type"])
UPLOADS_PURGED = Counter("dockyard_uploads_purged", "Abandoned upload sessions purged")
# Fed from per-process tallies about once a second (http/monitor.py), not per request.
HTTP_RECEIVED_BYTES = Counter(
    "dockyard_http_received_bytes", "Request body bytes declared by Content-Length, by route", ["route"]
)
HTTP_SENT_BYTES = Counter("dockyard_http_sent_bytes", "Response body bytes, by route", ["route"])
HTTP_IN_FLIGHT = Gauge(
    "dockyard_http_requests_in_flight", "Requests being answered, sampled each second", multiprocess_mode="livesum"
)
EVENT_LOOP_LAG = Histogram(
    "dockyard_event_loop_lag_seconds",
    "How late a timer on the event loop fires: time the loop spent on other work",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
UPLOAD_SESSIONS = Gauge(
    "dockyard_upload_sessions_open", "Upload sessions started and not yet finished", multiprocess_mode="max"
)
STORE_DURATION = Histogram(
    "dockyard_store_operation_duration_seconds",
    "Time a store operation took (metadata transactions, blob writes and commits)",
    ["store", "operation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
ACCESS_LOG_DROPPED = Counter(
    "dockyard_access_log_dropped_lines", "Access log lines dropped because the sink could not keep up"
)


@cache
def _request_series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    # Looking up labelled children costs more than updating them; the label space is small and fixed.
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_DURATION.labels(route)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    # Methods are client input: anything unexpected is one series, so clients cannot grow the label space.
    counter, histogram = _request_series(method if method in _METHODS else "OTHER", route, status)
    counter.inc()
    histogram.observe(seconds)


P = ParamSpec("P")
T = TypeVar("T")


Operation = Callable[P, Coroutine[Any, Any, T]]


def timed(store: str, operation: str) -> Callable[[Operation[P, T]], Operation[P, T]]:
    """Observe how long each call of a store coroutine takes, failed calls included. For I/O that
    takes milliseconds: the observation itself costs about a microsecond."""

    def decorate(call: Operation[P, T]) -> Operation[P, T]:
        @functools.wraps(call)
        async def observed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                STORE_DURATION.labels(store, operation).observe(time.perf_counter() - started)

        return observed

    return decorate


_USAGE_FAMILIES = {
    "blob_bytes": ("dockyard_repository_blob_bytes", "Bytes of the blobs a repository links, each counted once"),
    "shared_bytes": ("dockyard_repository_shared_bytes", "Bytes of a repository's blobs other repositories link too"),
    "tags": ("dockyard_repository_tags", "Tags of a repository"),
    "manifests": ("dockyard_repository_manifests", "Manifests of a repository"),
}


class _UsageCollector(Collector):
    def __init__(self, usages: Sequence[RepositoryUsage]):
        self._usages = usages

    def collect(self) -> Iterable[Metric]:
        for field, (name, documentation) in _USAGE_FAMILIES.items():
            family = GaugeMetricFamily(name, documentation, labels=["repository"])
            for usage in self._usages:
                family.add_metric([usage.repository], getattr(usage, field))
            yield family


def render_usage(usages: Sequence[RepositoryUsage]) -> bytes:
    """Per-repository usage in the exposition format, built for each scrape rather than kept as
    series, so that a deleted repository leaves /metrics with it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_UsageCollector(usages))
    return generate_latest(registry)
