"""Prometheus metrics. With several worker processes, prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set up by the CLI before workers start) aggregates them."""

from functools import cache

from prometheus_client import Counter, Histogram

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
