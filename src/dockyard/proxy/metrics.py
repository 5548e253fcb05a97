"""Metrics of the pull-through cache, per upstream: what clients got (hit, miss, stale), what was
asked of upstream and how it answered, bytes from upstream against bytes served, fills and the
clients that joined one instead of asking upstream themselves."""

from __future__ import annotations

import functools

from prometheus_client import Counter

from dockyard.remote import RemoteObserver

SERVED = Counter(
    "dockyard_proxy_requests",
    "Pulls of cache repositories by upstream, kind (manifest, blob) and outcome (hit, miss, stale)",
    ["upstream", "kind", "outcome"],
)
SERVED_BYTES = Counter("dockyard_proxy_served_bytes", "Bytes of cache repositories sent to clients", ["upstream"])
REVALIDATIONS = Counter(
    "dockyard_proxy_revalidations",
    "Cached tags past their TTL checked upstream, by result (unchanged, changed, gone, failed)",
    ["upstream", "result"],
)
FILLS = Counter("dockyard_proxy_fills", "Blob downloads into the cache, by result", ["upstream", "result"])
JOINS = Counter(
    "dockyard_proxy_fill_joins",
    "Clients served from a download already in progress, in this process or another",
    ["upstream", "where"],
)
UPSTREAM_REQUESTS = Counter(
    "dockyard_proxy_upstream_requests", "HTTP exchanges with upstreams", ["upstream", "method", "status"]
)
UPSTREAM_ERRORS = Counter(
    "dockyard_proxy_upstream_errors",
    "Upstream calls that failed, by HTTP status, `none` (no answer) or the reason they were not dialled",
    ["upstream", "status"],
)
UPSTREAM_BYTES = Counter("dockyard_proxy_upstream_bytes", "Body bytes received from upstreams", ["upstream"])
TOKENS = Counter("dockyard_proxy_upstream_tokens", "Tokens fetched from upstreams' token services", ["upstream"])
BREAKER_OPENINGS = Counter("dockyard_proxy_breaker_openings", "Circuit breakers opened on an upstream", ["upstream"])
RELEASED = Counter("dockyard_proxy_evictions", "Cached tags and holds released by eviction", ["upstream", "reason"])


@functools.lru_cache(maxsize=1024)
def served(upstream: str, kind: str, outcome: str) -> Counter:
    """The counter of one upstream, kind and outcome (looked up once: `labels()` costs more than `inc()`)."""
    return SERVED.labels(upstream, kind, outcome)


@functools.lru_cache(maxsize=256)
def served_bytes(upstream: str) -> Counter:
    return SERVED_BYTES.labels(upstream)


class UpstreamObserver(RemoteObserver):
    """Turns what an upstream's client reports into the metrics above."""

    def __init__(self, upstream: str):
        self._upstream = upstream
        self._bytes = UPSTREAM_BYTES.labels(upstream)

    def request_done(self, method: str, status: int | None) -> None:
        shown = "none" if status is None else str(status)
        UPSTREAM_REQUESTS.labels(self._upstream, method, shown).inc()
        if status is None or (status >= 400 and status != 401):  # a 401 is the token flow's first step
            UPSTREAM_ERRORS.labels(self._upstream, shown).inc()

    def bytes_received(self, count: int) -> None:
        self._bytes.inc(count)

    def token_fetched(self) -> None:
        TOKENS.labels(self._upstream).inc()

    def short_circuited(self, reason: str) -> None:
        UPSTREAM_ERRORS.labels(self._upstream, reason).inc()

    def breaker_opened(self) -> None:
        BREAKER_OPENINGS.labels(self._upstream).inc()
