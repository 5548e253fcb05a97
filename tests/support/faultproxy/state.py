"""The fault proxy's shared state: rules, target and records, safe to use from any thread.

The test thread adds rules and reads counts while the proxy's loop thread picks rules and records
exchanges; one lock guards it all and is never held across an await.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.support.faultproxy.rules import Exchange, Fault, Match, Pattern, Request, Rule


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"the fault proxy forwards to http://host:port only, not {url!r}")
        return cls(parts.hostname, parts.port or 80)


class ProxyState:
    def __init__(self, target: str, loop: asyncio.AbstractEventLoop):
        self._loop = loop  # where the relays run and stalls wait
        self._lock = threading.Lock()
        self._progress = threading.Condition()  # notified whenever an exchange moves on
        self._target = Target.parse(target)
        self._rules: list[Rule] = []
        self._exchanges: list[Exchange] = []
        self._bytes_sent = 0

    # -- target ----------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        with self._lock:
            return f"http://{self._target.host}:{self._target.port}"

    def set_target(self, url: str) -> None:
        """Send requests to `url` from now on (connections to the old target are dropped at their next request)."""
        target = Target.parse(url)
        with self._lock:
            self._target = target

    def current_target(self) -> Target:
        with self._lock:
            return self._target

    # -- rules -----------------------------------------------------------------------------------
    def add(
        self,
        method: str,
        path: Pattern,
        fault: Fault,
        *,
        query: Pattern | None = None,
        headers: Mapping[str, Pattern] | None = None,
        times: int | None = None,
        skip: int = 0,
        probability: float = 1.0,
        seed: int = 0,
    ) -> Rule:
        """Inject `fault` into matching requests; rules are tried in the order they were added."""
        match = Match(method, path, query, dict(headers or {}))
        rule = Rule(match, fault, times=times, skip=skip, probability=probability, seed=seed)
        rule.bind(self._loop)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        """Take `rule` out; stalls it holds are released."""
        with self._lock:
            self._rules.remove(rule)
        rule.release()

    def clear(self) -> None:
        """Take every rule out (stalls released): plain pass-through again."""
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            rule.release()

    # -- what the relay reports ----------------------------------------------------------------------
    def begin(self, request: Request) -> tuple[Exchange, Rule | None]:
        """Record a request that arrived and pick the first rule that applies to it."""
        with self._lock:
            rule = next((rule for rule in self._rules if rule.take(request)), None)
            exchange = Exchange(request, type(rule.fault).__name__ if rule else None)
            self._exchanges.append(exchange)
        self._notify()
        return exchange, rule

    def answered(self, exchange: Exchange, status: int) -> None:
        with self._lock:
            exchange.status = status
        self._notify()

    def _notify(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def sending(self, exchange: Exchange, size: int) -> None:
        """Count `size` body bytes about to be written to the client."""
        with self._lock:
            exchange.body_bytes += size
            self._bytes_sent += size
        self._notify()

    # -- observations --------------------------------------------------------------------------------
    def exchanges(
        self,
        method: str = "*",
        path: Pattern = "*",
        query: Pattern | None = None,
        headers: Mapping[str, Pattern] | None = None,
    ) -> list[Exchange]:
        """The matching requests received so far, oldest first (matched as rules match them)."""
        match = Match(method, path, query, dict(headers or {}))
        with self._lock:
            return [exchange for exchange in self._exchanges if match(exchange.request)]

    def count(
        self,
        method: str = "*",
        path: Pattern = "*",
        query: Pattern | None = None,
        headers: Mapping[str, Pattern] | None = None,
    ) -> int:
        """How many matching requests arrived, answered or not."""
        return len(self.exchanges(method, path, query, headers))

    @property
    def log(self) -> list[tuple[str, str, int | None]]:
        """(method, path, status) of every request so far; status None where no response head was sent."""
        with self._lock:
            return [(exchange.method, exchange.path, exchange.status) for exchange in self._exchanges]

    @property
    def bytes_sent(self) -> int:
        """Response body bytes written to clients so far (heads and chunk framing not counted)."""
        with self._lock:
            return self._bytes_sent

    def forget(self) -> None:
        """Start counting afresh (rules and their hit counts stay)."""
        with self._lock:
            self._exchanges.clear()
            self._bytes_sent = 0

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition()` holds (checked whenever an exchange moves on), or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._progress:  # held while checking, so no notification slips between check and wait
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"fault proxy: condition not met within {timeout}s; last requests: {self.log[-10:]}"
                    )
                self._progress.wait(remaining)

    def wait_for_count(self, method: str, path: Pattern, count: int, timeout: float = 10.0) -> None:
        """Block until at least `count` matching requests have arrived."""
        self.wait_for(lambda: self.count(method, path) >= count, timeout)
