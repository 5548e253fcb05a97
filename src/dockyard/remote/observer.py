"""What a remote client reports as it works, for the caller to turn into metrics or logs.

The client calls these methods synchronously on its hot path: implementations must be cheap and must
not raise. Subclass `RemoteObserver` and override what you need; the base does nothing.
"""

from __future__ import annotations

from collections import Counter


class RemoteObserver:
    def request_done(self, method: str, status: int | None) -> None:
        """One HTTP exchange with the remote (or a redirect target, or its token realm) ended;
        `status` is None when no answer came (timeout, refused, reset)."""

    def bytes_received(self, count: int) -> None:
        """Body bytes arrived (blobs, manifests, lists, tokens)."""

    def bytes_sent(self, count: int) -> None:
        """Body bytes of a blob upload went out."""

    def token_fetched(self) -> None:
        """A token was fetched from the remote's token realm."""

    def short_circuited(self, reason: str) -> None:
        """A call failed fast without dialling: `retry-after` or `breaker-open`."""

    def breaker_opened(self) -> None:
        """Consecutive failures opened the circuit breaker."""


class RemoteCounters(RemoteObserver):
    """Counts everything in memory: handy for `/metrics` collectors that read totals, and for tests."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int | None]] = Counter()
        self.received = 0
        self.sent = 0
        self.token_fetches = 0
        self.short_circuits: Counter[str] = Counter()
        self.breaker_openings = 0

    def request_done(self, method: str, status: int | None) -> None:
        self.requests[method, status] += 1

    def bytes_received(self, count: int) -> None:
        self.received += count

    def bytes_sent(self, count: int) -> None:
        self.sent += count

    def token_fetched(self) -> None:
        self.token_fetches += 1

    def short_circuited(self, reason: str) -> None:
        self.short_circuits[reason] += 1

    def breaker_opened(self) -> None:
        self.breaker_openings += 1

    def requests_with(self, method: str) -> int:
        return sum(count for (name, _), count in self.requests.items() if name == method)
