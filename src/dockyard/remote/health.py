"""Whether a remote may be dialled right now: its `Retry-After` and a circuit breaker.

After a 429 or 503 with `Retry-After`, calls fail fast until that moment. After `breaker_failures`
consecutive failures the breaker opens: calls fail fast for `breaker_cooldown` seconds, then exactly one
call goes through as a probe (half-open) while the others keep failing fast; the probe's success closes
the breaker, its failure opens it for another cooldown. Everything here runs on one event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

from dockyard.remote.errors import RemoteUnavailable
from dockyard.remote.observer import RemoteObserver

log = logging.getLogger("dockyard.remote")


class Health:
    def __init__(
        self,
        remote: str,
        failures_to_open: int,
        cooldown: float,
        observer: RemoteObserver,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._remote = remote
        self._failures_to_open = failures_to_open
        self._cooldown = cooldown
        self._observer = observer
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False
        self._not_before = 0.0

    def attempt(self) -> Attempt:
        """Admit one call or raise RemoteUnavailable (dialled=False) when it must fail fast."""
        now = self._clock()
        if now < self._not_before:
            self._refuse("retry-after", "the remote asked us to retry later", self._not_before - now)
        probe = False
        if self._open_until is not None:
            if now < self._open_until or self._probing:
                wait = max(self._open_until - now, 0.0) if not self._probing else self._cooldown
                self._refuse("breaker-open", f"{self._failures} consecutive failures: not dialled for now", wait)
            probe = self._probing = True
        return Attempt(self, probe)

    def _refuse(self, reason: str, message: str, wait: float) -> None:
        self._observer.short_circuited(reason)
        raise RemoteUnavailable(self._remote, message, retry_after=wait, dialled=False)

    def succeeded(self) -> None:
        self._failures = 0
        self._open_until = None

    def failed(self, retry_after: float | None = None) -> None:
        now = self._clock()
        if retry_after is not None:
            self._not_before = max(self._not_before, now + retry_after)
        self._failures += 1
        reopen = self._open_until is not None  # a failed probe
        if reopen or self._failures >= self._failures_to_open:
            if not reopen:
                self._observer.breaker_opened()
                log.warning(
                    "%s: %d consecutive failures, not dialled for %.0f s", self._remote, self._failures, self._cooldown
                )
            self._open_until = now + self._cooldown

    def end_attempt(self, probe: bool) -> None:
        if probe:
            self._probing = False


class Attempt:
    """One admitted call. Report its outcome with `succeeded()` / `failed()`; a call that ends without
    one (cancelled) gives its probe slot back, so a half-open breaker is never stuck."""

    def __init__(self, health: Health, probe: bool):
        self._health = health
        self._probe = probe
        self._settled = False

    def succeeded(self) -> None:
        self._settle()
        self._health.succeeded()

    def failed(self, retry_after: float | None = None) -> None:
        self._settle()
        self._health.failed(retry_after)

    def _settle(self) -> None:
        if not self._settled:
            self._settled = True
            self._health.end_attempt(self._probe)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._settle()
