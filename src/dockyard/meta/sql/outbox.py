"""The notification outbox: events stored with the writes they describe, taken by delivery workers.

Delivery of an endpoint is leased to one worker at a time (a conditional UPDATE of its row; the
dialect's SKIP LOCKED lets contenders on other instances pass instead of queueing), which keeps an
endpoint's events in order across workers and instances and delivers each once while the lease
holds. Bookkeeping writes (leases, acknowledgements, pulls) are not durable: a crash may lose one,
at worst sending an event again, or losing a buffered pull as documented.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dockyard.meta.driver import Transaction
from dockyard.meta.outbox import Outbox, OutboxBatch, OutboxEntry
from dockyard.meta.sql.core import SqlCore, insert_outbox, placeholders

_ENSURE_ENDPOINT = "INSERT INTO event_endpoints (name) VALUES (?) ON CONFLICT (name) DO NOTHING"
_LEASE = """UPDATE event_endpoints SET owner = ?, lease_until = ? WHERE name IN (
    SELECT name FROM event_endpoints WHERE name = ? AND (owner = ? OR lease_until < ?)
    {skip_locked})"""
# Ids are unique, so an endpoint whose ids span at most `keep` holds at most `keep` events: two
# index probes spare most takes the scan of `keep` entries that trimming costs.
_SPAN = """SELECT (SELECT min(id) FROM event_outbox WHERE endpoint = ?),
    (SELECT max(id) FROM event_outbox WHERE endpoint = ?)"""
# Everything older than the `keep` newest events of the endpoint.
_TRIM = """DELETE FROM event_outbox WHERE endpoint = ? AND id <= (
    SELECT id FROM event_outbox WHERE endpoint = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"""


async def _trim(tx: Transaction, endpoint: str, keep: int) -> int:
    span = await tx.fetch_one(_SPAN, (endpoint, endpoint))
    if span is None or span[0] is None or span[1] - span[0] < keep:
        return 0
    return await tx.execute(_TRIM, (endpoint, endpoint, keep))


class OutboxQueries(SqlCore, Outbox):
    async def append_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        async def run(tx: Transaction) -> None:
            await insert_outbox(tx, entries)

        await self._write(run, invalidates=False, durable=False)

    async def take_outbox(
        self, endpoint: str, owner: str, lease_seconds: float, limit: int, keep: int
    ) -> tuple[OutboxBatch | None, int]:
        # A read first, so that idle workers cost no write transaction.
        if await self._read_one("SELECT 1 FROM event_outbox WHERE endpoint = ? LIMIT 1", endpoint) is None:
            return None, 0
        lease = _LEASE.format(skip_locked=self._dialect.skip_locked)

        async def run(tx: Transaction) -> tuple[OutboxBatch | None, int]:
            now = time.time()
            await tx.execute(_ENSURE_ENDPOINT, (endpoint,))
            if await tx.execute(lease, (owner, now + lease_seconds, endpoint, owner, now)) == 0:
                return None, 0
            dropped = await _trim(tx, endpoint, keep)
            backoff = await tx.fetch_one("SELECT retry_at, failures FROM event_endpoints WHERE name = ?", (endpoint,))
            assert backoff is not None
            if backoff[0] > now:
                return None, dropped
            rows = await tx.fetch_all(
                "SELECT id, payload FROM event_outbox WHERE endpoint = ? ORDER BY id LIMIT ?", (endpoint, limit)
            )
            if not rows:
                return None, dropped
            batch = OutboxBatch(tuple(row[0] for row in rows), tuple(row[1] for row in rows), int(backoff[1]))
            return batch, dropped

        return await self._write(run, invalidates=False, durable=False)

    async def ack_outbox(self, endpoint: str, ids: Sequence[int]) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute(f"DELETE FROM event_outbox WHERE id IN ({placeholders(ids)})", tuple(ids))  # noqa: S608
            await tx.execute("UPDATE event_endpoints SET failures = 0, retry_at = 0 WHERE name = ?", (endpoint,))

        await self._write(run, invalidates=False, durable=False)

    async def fail_outbox(self, endpoint: str, ids: Sequence[int], max_attempts: int, retry_at: float) -> int:
        where = f"WHERE id IN ({placeholders(ids)})"

        async def run(tx: Transaction) -> int:
            await tx.execute(f"UPDATE event_outbox SET attempts = attempts + 1 {where}", tuple(ids))  # noqa: S608
            given_up = await tx.execute(f"DELETE FROM event_outbox {where} AND attempts >= ?", (*ids, max_attempts))  # noqa: S608
            await tx.execute(
                "UPDATE event_endpoints SET failures = failures + 1, retry_at = ? WHERE name = ?", (retry_at, endpoint)
            )
            return given_up

        return await self._write(run, invalidates=False, durable=False)

    async def release_outbox(self, endpoint: str, owner: str) -> None:
        await self._write_one(
            "UPDATE event_endpoints SET owner = NULL, lease_until = 0 WHERE name = ? AND owner = ?",
            endpoint,
            owner,
            invalidates=False,
        )

    async def outbox_pending(self, endpoint: str) -> int:
        row = await self._read_one("SELECT count(*) FROM event_outbox WHERE endpoint = ?", endpoint)
        return int(row[0]) if row else 0

    async def outbox_oldest(self, endpoint: str) -> float | None:
        row = await self._read_one(
            "SELECT created_at FROM event_outbox WHERE endpoint = ? ORDER BY id LIMIT 1", endpoint
        )
        return None if row is None else float(row[0])
