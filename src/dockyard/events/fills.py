"""Webhook events of the pull-through cache: a `fill` event (opt-in, like pulls) for each manifest and
blob it stored from an upstream, in Distribution's envelope like every other event."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.events.envelope import BLOB_MEDIA_TYPE, Target
from dockyard.events.notifier import INTERNAL, Notifier
from dockyard.meta.outbox import OutboxEntry
from dockyard.proxy import Filled


class FillNotifier:
    """The cache's `FillEvents`, through the registry's notifier."""

    def __init__(self, notifier: Notifier):
        self._notifier = notifier

    def entries(self, filled: Filled) -> Sequence[OutboxEntry]:
        target = Target(
            filled.repository,
            filled.digest,
            filled.media_type or BLOB_MEDIA_TYPE,
            filled.size,
            filled.tag,
            kind=filled.kind,
        )
        return self._notifier.entries("fill", [target], INTERNAL)

    def written(self, entries: Sequence[OutboxEntry]) -> None:
        self._notifier.written(entries)
