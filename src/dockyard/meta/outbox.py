"""The notification outbox: events stored in the transaction of the write they describe, then
delivered per endpoint by workers that lease it.

Every write of the other concerns that takes `outbox` entries stores them in its own transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event for one notification endpoint, stored with the write it describes."""

    endpoint: str
    repository: str
    payload: str
    """The event as JSON, ready to go into an envelope."""


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    """The oldest events of an endpoint, taken by one delivery worker under its lease."""

    ids: tuple[int, ...]
    payloads: tuple[str, ...]
    failures: int
    """Consecutive failed deliveries to the endpoint so far, for the backoff."""


class Outbox(Protocol):
    """Delivery workers take events per endpoint under a lease, oldest first."""

    @abstractmethod
    async def append_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        """Entries that describe no write of their own (pulls)."""

    @abstractmethod
    async def take_outbox(
        self, endpoint: str, owner: str, lease_seconds: float, limit: int, keep: int
    ) -> tuple[OutboxBatch | None, int]:
        """Lease the endpoint to `owner` if no other owner holds it, drop its oldest events beyond
        `keep`, and return its oldest `limit` events when its backoff has passed (None when not
        leased, not due or empty), with how many events were dropped."""

    @abstractmethod
    async def ack_outbox(self, endpoint: str, ids: Sequence[int]) -> None:
        """The events were delivered: remove them and clear the endpoint's backoff."""

    @abstractmethod
    async def fail_outbox(self, endpoint: str, ids: Sequence[int], max_attempts: int, retry_at: float) -> int:
        """A delivery failed: count an attempt on each event, remove those that had `max_attempts`
        and hold the endpoint back until `retry_at`. Returns how many were removed."""

    @abstractmethod
    async def release_outbox(self, endpoint: str, owner: str) -> None:
        """Give up the lease, so that another worker may take the endpoint at once."""

    @abstractmethod
    async def outbox_pending(self, endpoint: str) -> int: ...

    @abstractmethod
    async def outbox_oldest(self, endpoint: str) -> float | None:
        """When the endpoint's oldest waiting event was stored (epoch seconds); None when none waits."""
