"""The notification outbox in SQL: written once for SQLite and PostgreSQL.

Each function runs inside a transaction the store opens. Delivery of an endpoint is leased to
one worker at a time (a conditional UPDATE of its row, with `FOR UPDATE SKIP LOCKED` on
PostgreSQL so that contenders pass instead of queueing), which keeps an endpoint's events in
order across workers and instances and delivers each once while the lease holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from dockyard.meta.base import OutboxBatch, OutboxEntry


class Connection(Protocol):
    """The part of a DB-API connection (with `?` placeholders) these statements need."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


_INSERT = "INSERT INTO event_outbox (endpoint, repository, payload, created_at) VALUES (?, ?, ?, ?)"
_ENSURE_ENDPOINT = "INSERT INTO event_endpoints (name) VALUES (?) ON CONFLICT (name) DO NOTHING"
_LEASE = """UPDATE event_endpoints SET owner = ?, lease_until = ? WHERE name IN (
    SELECT name FROM event_endpoints WHERE name = ? AND (owner = ? OR owner IS NULL OR lease_until < ?){lock})"""
# Ids are unique, so an endpoint whose ids span at most `keep` holds at most `keep` events: two
# index probes spare most takes the scan of `keep` entries that trimming costs.
_SPAN = """SELECT (SELECT min(id) FROM event_outbox WHERE endpoint = ?),
    (SELECT max(id) FROM event_outbox WHERE endpoint = ?)"""
# Everything older than the `keep` newest events of the endpoint.
_TRIM = """DELETE FROM event_outbox WHERE endpoint = ? AND id <= (
    SELECT id FROM event_outbox WHERE endpoint = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"""
_BACKOFF = "SELECT retry_at, failures FROM event_endpoints WHERE name = ?"
_OLDEST = "SELECT id, payload FROM event_outbox WHERE endpoint = ? ORDER BY id LIMIT ?"
_ANY = "SELECT 1 FROM event_outbox WHERE endpoint = ? LIMIT 1"


def _in(ids: Sequence[int]) -> str:
    return "(" + ", ".join("?" * len(ids)) + ")"


def insert(conn: Connection, entries: Sequence[OutboxEntry]) -> None:
    if entries:
        now = time.time()
        conn.executemany(_INSERT, [(e.endpoint, e.repository, e.payload, now) for e in entries])


def has_events(conn: Connection, endpoint: str) -> bool:
    """A read that lets idle workers skip the write transaction of `take`."""
    return conn.execute(_ANY, (endpoint,)).fetchone() is not None


def take(
    conn: Connection, endpoint: str, owner: str, lease_seconds: float, *, limit: int, keep: int, skip_locked: bool
) -> tuple[OutboxBatch | None, int]:
    now = time.time()
    conn.execute(_ENSURE_ENDPOINT, (endpoint,))
    lease = _LEASE.format(lock=" FOR UPDATE SKIP LOCKED" if skip_locked else "")
    if conn.execute(lease, (owner, now + lease_seconds, endpoint, owner, now)).rowcount == 0:
        return None, 0
    dropped = _trim(conn, endpoint, keep)
    retry_at, failures = conn.execute(_BACKOFF, (endpoint,)).fetchone()
    if retry_at > now:
        return None, dropped
    rows = conn.execute(_OLDEST, (endpoint, limit)).fetchall()
    if not rows:
        return None, dropped
    return OutboxBatch(tuple(row[0] for row in rows), tuple(row[1] for row in rows), int(failures)), dropped


def _trim(conn: Connection, endpoint: str, keep: int) -> int:
    oldest, newest = conn.execute(_SPAN, (endpoint, endpoint)).fetchone()
    if oldest is None or newest - oldest < keep:
        return 0
    return int(conn.execute(_TRIM, (endpoint, endpoint, keep)).rowcount)


def ack(conn: Connection, endpoint: str, ids: Sequence[int]) -> None:
    conn.execute(f"DELETE FROM event_outbox WHERE id IN {_in(ids)}", tuple(ids))  # noqa: S608 - placeholders only
    conn.execute("UPDATE event_endpoints SET failures = 0, retry_at = 0 WHERE name = ?", (endpoint,))


def fail(conn: Connection, endpoint: str, ids: Sequence[int], max_attempts: int, retry_at: float) -> int:
    where = f"WHERE id IN {_in(ids)}"
    conn.execute(f"UPDATE event_outbox SET attempts = attempts + 1 {where}", tuple(ids))  # noqa: S608
    given_up = conn.execute(f"DELETE FROM event_outbox {where} AND attempts >= ?", (*ids, max_attempts))  # noqa: S608
    conn.execute(
        "UPDATE event_endpoints SET failures = failures + 1, retry_at = ? WHERE name = ?", (retry_at, endpoint)
    )
    return int(given_up.rowcount)


def release(conn: Connection, endpoint: str, owner: str) -> None:
    conn.execute(
        "UPDATE event_endpoints SET owner = NULL, lease_until = 0 WHERE name = ? AND owner = ?", (endpoint, owner)
    )


def pending(conn: Connection, endpoint: str) -> int:
    return int(conn.execute("SELECT count(*) FROM event_outbox WHERE endpoint = ?", (endpoint,)).fetchone()[0])
