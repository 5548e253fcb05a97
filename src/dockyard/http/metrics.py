"""Metrics of the HTTP layer: requests by route and status, bytes in and out, requests in flight,
event-loop lag, and access log lines dropped."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# All but the event-loop lag are fed from per-process tallies about once a second (http/monitor.py),
# not per request: in multiprocess mode each update of a series takes a lock and writes a shared file.
HTTP_REQUESTS = Counter("dockyard_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)
HTTP_DURATION = Histogram(
    "dockyard_http_request_duration_seconds",
    "Time to answer an HTTP request (for downloads: until the response started)",
    ["route"],
    buckets=HTTP_DURATION_BUCKETS,
)
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
ACCESS_LOG_DROPPED = Counter(
    "dockyard_access_log_dropped_lines", "Access log lines dropped because the sink could not keep up"
)
