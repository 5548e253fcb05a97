"""What the cache stored from upstream, for webhooks: the registry's notifier answers with the outbox
entries to write in the same transaction (the cache knows nothing of endpoints or envelopes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from dockyard.meta.outbox import OutboxEntry


@dataclass(frozen=True, slots=True)
class Filled:
    repository: str
    digest: str
    media_type: str | None
    """None for a blob (receivers see what Distribution reports for blobs)."""
    size: int
    tag: str | None = None
    kind: Literal["manifests", "blobs"] = "manifests"


class FillEvents(Protocol):
    def entries(self, filled: Filled) -> Sequence[OutboxEntry]:
        """The outbox entries of a fill (none when no endpoint wants it)."""

    def written(self, entries: Sequence[OutboxEntry]) -> None:
        """Called once those entries are stored, to wake the delivery workers."""


class NoEvents:
    def entries(self, filled: Filled) -> Sequence[OutboxEntry]:  # noqa: ARG002 - nobody listens
        return ()

    def written(self, entries: Sequence[OutboxEntry]) -> None:
        pass
