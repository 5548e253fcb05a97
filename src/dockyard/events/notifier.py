"""Which endpoints want an event, and the outbox entries that carry it to them."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Protocol

from dockyard.config.settings import EventAction, NotificationEndpoint
from dockyard.events.envelope import Origin, Source, Target, event
from dockyard.meta.outbox import OutboxEntry

# Writes made by dockyard itself rather than a client request.
INTERNAL = Origin(request_id="", addr="", host="", method="", useragent="")


class Consumer(Protocol):
    """A reader of the outbox besides webhook endpoints (replication's event rules): its events are
    stored under `key` in the transaction of the write, like an endpoint's."""

    @property
    def key(self) -> str: ...

    def wants(self, action: EventAction, repository: str, kind: str) -> bool:
        """Whether the event goes to this consumer; `kind` is manifests or blobs."""
        ...

    def wake(self) -> None:
        """Events were stored in this process: look for them now rather than at the next poll."""
        ...


class Notifier:
    """Builds events for the registry's writes; an action nobody subscribes to costs a cached lookup."""

    def __init__(self, endpoints: Sequence[NotificationEndpoint], source: Source, consumers: Sequence[Consumer] = ()):
        self._endpoints = tuple(endpoints)
        self._consumers = tuple(consumers)
        self._source = source
        self._wake: Callable[[], None] = lambda: None
        # Few distinct (action, repository) pairs recur; the globs are matched once for each.
        self.subscribers = functools.lru_cache(maxsize=16_384)(self._match)
        self.wants_pulls = any("pull" in endpoint.events for endpoint in endpoints)

    def _match(self, action: EventAction, repository: str, kind: str = "manifests") -> tuple[str, ...]:
        endpoints = tuple(
            endpoint.key
            for endpoint in self._endpoints
            if action in endpoint.events and any(fnmatchcase(repository, glob) for glob in endpoint.repositories)
        )
        return endpoints + tuple(c.key for c in self._consumers if c.wants(action, repository, kind))

    def on_write(self, wake: Callable[[], None]) -> None:
        """Call `wake` after outbox entries were stored, so local workers deliver them without polling."""
        self._wake = wake

    def written(self, entries: Sequence[OutboxEntry]) -> None:
        if entries:
            self._wake()

    def entries(
        self, action: EventAction, targets: Sequence[Target], origin: Origin | None, timestamp: float | None = None
    ) -> list[OutboxEntry]:
        """One entry per target and subscribed endpoint; empty (and nothing serialized) when none is."""
        entries: list[OutboxEntry] = []
        at = time.time() if timestamp is None else timestamp
        for target in targets:
            endpoints = self.subscribers(action, target.repository, target.kind)
            if endpoints:
                payload = event(action, target, origin or INTERNAL, self._source, at)
                entries.extend(OutboxEntry(key, target.repository, payload) for key in endpoints)
        return entries


SILENT = Notifier((), Source("", ""))
"""For registries (and tests of other layers) without notifications."""
