"""Metrics of the pull-through cache, per upstream: what clients got (hit, miss, stale), what was
asked of upstream and how it answered, bytes from upstream against bytes served, fills and the
clients that joined one instead of asking upstream themselves."""

from __future__ import annotations

import collections

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


class Tallies:
    """What each pull of a cache repository adds (its outcome, its bytes), tallied in memory and
    published about once a second: updating a series in multiprocess mode takes a lock and writes a
    shared file, more than the rest of a cache hit costs."""

    def __init__(self) -> None:
        self._served: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._bytes: collections.Counter[str] = collections.Counter()

    def served(self, upstream: str, kind: str, outcome: str) -> None:
        self._served[upstream, kind, outcome] += 1

    def sent(self, upstream: str, count: int) -> None:
        self._bytes[upstream] += count

    def publish(self) -> None:
        served, self._served = self._served, collections.Counter()
        sent, self._bytes = self._bytes, collections.Counter()
        for labels, count in served.items():
            SERVED.labels(*labels).inc(count)
        for upstream, count in sent.items():
            SERVED_BYTES.labels(upstream).inc(count)


TALLIES = Tallies()
"""This process's."""


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
