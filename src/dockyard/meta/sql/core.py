"""The base of every query mixin: the driver, the manifest lookup cache and shared helpers.

Manifest lookups, the hot path of every pull, are answered from memory while the driver's change
token says no process has written since; most of a query's cost is the round trip or read
transaction it opens, not the lookup.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from dockyard.meta.audit import AuditEntry
from dockyard.meta.driver import Driver, Row, Transaction, Work
from dockyard.meta.manifests import ManifestRef
from dockyard.meta.outbox import OutboxEntry
from dockyard.meta.records import WriteRecord
from dockyard.telemetry import metrics

T = TypeVar("T")

# A writer that dies between its commit and advancing the token, or a lost change notification,
# leaves the cache stale; entries are dropped after this long whatever the token says.
_CACHE_SECONDS = 1.0
_CACHE_ENTRIES = 50_000
NOT_FOUND = ManifestRef("", "", -1)


class SqlCore:
    def __init__(self, driver: Driver):
        self._driver = driver
        self._dialect = driver.dialect
        self._change_token = driver.change_token
        self._refs: dict[tuple[str, str, str], Any] = {}
        self._refs_token = driver.change_token()
        self._refs_expire = 0.0

    # Plain functions handing back the driver's awaitable: no coroutine of their own per read.
    def _read_one(self, sql: str, *params: Any) -> Awaitable[Row | None]:
        return self._driver.fetch_one(sql, params)

    def _read_all(self, sql: str, *params: Any) -> Awaitable[list[Row]]:
        return self._driver.fetch_all(sql, params)

    @metrics.timed("metadata", "transaction")
    async def _write(self, work: Work[T], invalidates: bool = True, durable: bool = True) -> T:
        return await self._driver.transact(work, invalidates, durable)

    async def _write_one(self, sql: str, *params: Any, invalidates: bool = True, durable: bool = True) -> int:
        """A write of one statement; the number of rows it changed."""

        async def run(tx: Transaction) -> int:
            return await tx.execute(sql, params)

        return await self._write(run, invalidates, durable)

    async def _delete(self, statement: str, *params: Any, records: Sequence[WriteRecord] = ()) -> bool:
        """Run one DELETE as its own write; whether it removed anything. The records are
        stored with it only when it did."""

        async def run(tx: Transaction) -> bool:
            deleted = await tx.execute(statement, params) > 0
            if deleted:
                await insert_records(tx, records)
            return deleted

        return await self._write(run)

    def _cached_ref(self, sql: str, repository: str, key: str) -> ManifestRef | None:
        """The cached answer to a manifest lookup (NOT_FOUND for a cached miss), or None.

        Not a coroutine: a cache hit, the common case of every pull, costs no await."""
        ref: ManifestRef | None = self._recall((sql, repository, key))
        return ref

    def _recall(self, key: tuple[str, str, str]) -> Any:
        """A lookup's answer remembered since the last change (None when there is none)."""
        token, now = self._change_token(), time.monotonic()
        if token != self._refs_token or now > self._refs_expire:
            self._refs.clear()
            self._refs_token, self._refs_expire = token, now + _CACHE_SECONDS
        return self._refs.get(key)

    async def _query_ref(self, sql: str, repository: str, key: str) -> ManifestRef:
        """Look up and cache what `_cached_ref` did not have; call it right after that."""
        token = self._refs_token  # read before the query: a write that lands meanwhile changes it
        row = await self._driver.fetch_one(sql, (repository, key))
        ref = ManifestRef(*row) if row else NOT_FOUND
        self._remember((sql, repository, key), ref, token)
        return ref

    def _remember(self, key: tuple[str, str, str], answer: Any, token: int) -> None:
        """Keep an answer read after `_recall` (which set `token`), unless a write came in between."""
        if self._change_token() == token == self._refs_token:
            if len(self._refs) >= _CACHE_ENTRIES:
                self._refs.clear()
            self._refs[key] = answer


async def repository_id(tx: Transaction, name: str) -> int:
    """The id of a repository, created on first use."""
    select = "SELECT id FROM repositories WHERE name = ?"
    row = await tx.fetch_one(select, (name,))
    if row is None:
        row = await tx.fetch_one(
            "INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id",
            (name, time.time()),
        )
    if row is None:  # created by a concurrent transaction that committed meanwhile
        row = await tx.fetch_one(select, (name,))
    assert row is not None
    return int(row[0])


async def link(tx: Transaction, repository: str, digest: str, size: int) -> None:
    now = time.time()
    await tx.execute(
        "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
        (digest, size, now),
    )
    await tx.execute(
        """INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)
           ON CONFLICT (repository_id, digest) DO NOTHING""",
        (await repository_id(tx, repository), digest, now),
    )


async def insert_outbox(tx: Transaction, entries: Sequence[OutboxEntry]) -> None:
    """Store notification events inside the caller's transaction; nothing when there are none."""
    if entries:
        now = time.time()
        await tx.execute_many(
            "INSERT INTO event_outbox (endpoint, repository, payload, created_at) VALUES (?, ?, ?, ?)",
            [(entry.endpoint, entry.repository, entry.payload, now) for entry in entries],
        )


# An entry naming a tag keeps the digest the tag pointed at until now, when another: stored before
# a push points the tag anew, that is what makes the push a tag move.
_INSERT_AUDIT = """INSERT INTO audit_log
    (at, action, actor, client, request_id, repository, digest, tag, detail, previous)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT t.digest FROM tags t JOIN repositories r ON r.id = t.repository_id
        WHERE r.name = ? AND t.name = ? AND t.digest <> ?))"""


async def insert_audit(tx: Transaction, entries: Sequence[AuditEntry]) -> None:
    """Store audit entries inside the caller's transaction; nothing when there are none."""
    if entries:
        now = time.time()
        await tx.execute_many(
            _INSERT_AUDIT,
            [
                (now, e.action, e.actor, e.client, e.request_id, e.repository, e.digest, e.tag, e.detail, *_tag_of(e))
                for e in entries
            ],
        )


def _tag_of(entry: AuditEntry) -> tuple[str | None, str | None, str]:
    """The parameters that find the digest the entry's tag pointed at before, when another."""
    return entry.repository, entry.tag, entry.digest or ""


async def insert_records(tx: Transaction, records: Sequence[WriteRecord]) -> None:
    """Store what a write records beside its change, inside its transaction."""
    await insert_outbox(tx, [record for record in records if isinstance(record, OutboxEntry)])
    await insert_audit(tx, [record for record in records if isinstance(record, AuditEntry)])


def in_repository(statement: str) -> str:
    """A DELETE whose first parameter picks rows and whose second names the repository they are in."""
    return statement + " AND repository_id = (SELECT id FROM repositories WHERE name = ?)"  # noqa: S608 - constant SQL


def placeholders(values: Sequence[Any]) -> str:
    """`?, ?, ...` for an IN list of these values."""
    return ", ".join("?" * len(values))
