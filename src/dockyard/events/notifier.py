"""Which endpoints want an event, and the outbox entries that carry it to them."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase

from dockyard.config.settings import EventAction, NotificationEndpoint
from dockyard.events.envelope import Origin, Source, Target, event
from dockyard.meta.outbox import OutboxEntry

# Writes made by dockyard itself rather than a client request.
INTERNAL = Origin(request_id="", addr="", host="", method="", useragent="")


class Notifier:
    """Builds events for the registry's writes; an action nobody subscribes to costs a cached lookup."""

    def __init__(self, endpoints: Sequence[NotificationEndpoint], source: Source):
        self._endpoints = tuple(endpoints)
        self._source = source
        self._wake: Callable[[], None] = lambda: None
        # Few distinct (action, repository) pairs recur; the globs are matched once for each.
        self.subscribers = functools.lru_cache(maxsize=16_384)(self._match)
        self.wants_pulls = any("pull" in endpoint.events for endpoint in endpoints)

    def _match(self, action: EventAction, repository: str) -> tuple[str, ...]:
        return tuple(
            endpoint.key
            for endpoint in self._endpoints
            if action in endpoint.events and any(fnmatchcase(repository, glob) for glob in endpoint.repositories)
        )

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
            endpoints = self.subscribers(action, target.repository)
            if endpoints:
                payload = event(action, target, origin or INTERNAL, self._source, at)
                entries.extend(OutboxEntry(key, target.repository, payload) for key in endpoints)
        return entries


SILENT = Notifier((), Source("", ""))
"""For registries (and tests of other layers) without notifications."""
