"""The PostgreSQL metadata engine: psycopg 3 (async) over a connection pool, for any number of instances.

Every write is one SERIALIZABLE transaction, retried whole when PostgreSQL reports a serialization
failure or a deadlock, so concurrent writers on several instances behave as SQLite's one-at-a-time
writers do and no such error reaches a client. Each instance keeps the manifest lookup cache of
the shared store: a transaction that may change lookups sends NOTIFY on commit, and every process
LISTENs on a connection of its own and advances its change token on each notification (the cache's
TTL bounds staleness if one is ever missed; while the listener is disconnected nothing is cached).
Migrations run at start under an advisory lock, so instances starting at once do not race.

A connection that breaks (the server restarted, or an administrator terminated it) costs no failed
request when that can be avoided: a read, or a write whose COMMIT was not sent yet (the server
rolls back what a lost connection held), is repeated on a fresh connection, a few times with a
short pause. A write whose connection broke during the COMMIT may or may not have been made: its
transaction id, taken just before, is looked up (txid_status) on a fresh connection, so that a
write that was made is answered as made and one that was not is repeated; never both. Only when
that cannot be learnt does the request fail as unavailable (503), and since every write dockyard
makes is idempotent, the client's retry then finds it made or makes it. A request waits at most
_CONNECT_TIMEOUT for a connection; a full disk at the server answers as out of space.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Sequence
from typing import TypeVar

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from dockyard.core.errors import OutOfSpace, ReadOnlyStorage, StoreFault, StoreUnavailable
from dockyard.core.urls import redact_password
from dockyard.meta.driver import Dialect, Params, Row, Work
from dockyard.meta.errors import MetadataUnavailable, WriteContention
from dockyard.meta.migrate import apply_migrations
from dockyard.meta.sql import SqlMetadataStore

T = TypeVar("T")
log = logging.getLogger(__name__)

_MIGRATION_LOCK = int.from_bytes(b"dockyard", "big")  # the advisory lock key, any fixed 64-bit value
_REVIEW_LOCK = int.from_bytes(b"dy-gcrev", "big")
POSTGRES = Dialect(
    name="postgresql",
    skip_locked="FOR UPDATE SKIP LOCKED",
    like_any_case="ILIKE",
    review_lock=f"SELECT pg_advisory_xact_lock({_REVIEW_LOCK})",
)
_CHANNEL = "dockyard_metadata"
_CONNECT_TIMEOUT = 10
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
_MAX_ATTEMPTS = 50
_MAX_RECONNECTS = 3  # fresh connections tried after a broken one, per read or write
_RECONNECT_PAUSE_SECONDS = 0.1  # doubled each time: a restarting server takes a moment
_RELISTEN_SECONDS = 1.0
# The last statement of a write: the transaction's id, by which its fate can be asked should the
# connection break during COMMIT, and (for writes that change lookups) the change notification,
# delivered to every listener at commit. One round trip either way.
_BEFORE_COMMIT = f"SELECT txid_current(), pg_notify('{_CHANNEL}', '')"
_BEFORE_QUIET_COMMIT = "SELECT txid_current()"


@functools.lru_cache(maxsize=1024)
def _native(sql: str) -> str:
    """Portable `?` placeholders as psycopg's `%s` (a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _one_line(error: psycopg.Error) -> str:
    return " ".join(str(error).split())  # libpq's messages span lines


def _unavailable(url: str, error: psycopg.Error) -> MetadataUnavailable:
    return MetadataUnavailable(f"cannot use PostgreSQL at {redact_password(url)}: {_one_line(error)}")


def _fault_of(url: str, error: psycopg.Error) -> StoreFault | None:
    """The store fault a failed statement stands for, if it is one; a lost connection is not
    among them, since the caller decides whether it may try again."""
    where = f"PostgreSQL at {redact_password(url)}: {_one_line(error)}"
    if isinstance(error, errors.DiskFull):
        return OutOfSpace(where)
    if isinstance(error, errors.ReadOnlySqlTransaction):  # a standby, or default_transaction_read_only
        return ReadOnlyStorage(where)
    return None


def prepare_database(url: str) -> None:
    """Connect and bring the schema up to date under an advisory lock; MetadataUnavailable if the
    server cannot be reached or refuses the credentials."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
            # A session lock: released when this connection closes, also if this process dies.
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            yoyo_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            apply_migrations(yoyo_url, "postgres", caller_holds_lock=True)
    except psycopg.Error as error:
        raise _unavailable(url, error) from None


class _PostgresTransaction:
    def __init__(self, conn: psycopg.AsyncConnection[Row]):
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_native(sql), params)
        return cursor.rowcount

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        async with self._conn.cursor() as cursor:
            await cursor.executemany(_native(sql), rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(_native(sql), params)
        return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(_native(sql), params)
        return await cursor.fetchall()


async def _serializable(conn: psycopg.AsyncConnection[Row]) -> None:
    await conn.set_isolation_level(psycopg.IsolationLevel.SERIALIZABLE)


class PostgresDriver:
    dialect = POSTGRES

    def __init__(self, url: str, pool_size: int):
        self._url = url
        # Autocommit: a read is one statement; a write opens its transaction explicitly.
        self._pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT},
            configure=_serializable,
            timeout=_CONNECT_TIMEOUT,
            name="dockyard-metadata",
        )
        self._token = 0
        self._listening = False
        self._listened_before = False
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT)
        except psycopg.Error as error:
            raise _unavailable(self._url, error) from None
        self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._pool.close()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self._read(sql, params, one=True)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._read(sql, params, one=False)

    async def _read(self, sql: str, params: Params, one: bool) -> list[Row]:
        for reconnects in range(_MAX_RECONNECTS + 1):
            try:
                async with self._pool.connection() as conn:
                    cursor = await conn.execute(_native(sql), params)
                    if one:
                        row = await cursor.fetchone()
                        return [row] if row is not None else []
                    return await cursor.fetchall()
            except psycopg.Error as error:
                await self._after_failure(error, reconnects)
        raise AssertionError("unreachable")

    async def _after_failure(self, error: psycopg.Error, reconnects: int) -> None:
        """Return when the statement may be tried again on a fresh connection; raise otherwise."""
        fault = _fault_of(self._url, error)
        if fault is not None:
            raise fault from error
        if not isinstance(error, psycopg.OperationalError):
            raise error
        if isinstance(error, PoolTimeout) or reconnects == _MAX_RECONNECTS:
            # PoolTimeout: no connection came within the timeout; waiting longer helps nobody.
            raise self._unavailable(_one_line(error)) from error
        await self._drop_lost_connections()
        await asyncio.sleep(_RECONNECT_PAUSE_SECONDS * 2**reconnects)

    def _unavailable(self, reason: str) -> StoreUnavailable:
        return StoreUnavailable(f"PostgreSQL at {redact_password(self._url)}: {reason}")

    async def _committed(self, xid: int, error: psycopg.Error) -> bool:
        """Whether transaction `xid` was made after all, its COMMIT having failed with `error`.

        Only a broken connection leaves that open; its fate is then asked on a fresh one
        (StoreUnavailable when it cannot be learnt)."""
        if not isinstance(error, psycopg.OperationalError):
            return False  # the server answered: the commit failed
        for reconnects in range(_MAX_RECONNECTS + 1):
            await self._drop_lost_connections()
            await asyncio.sleep(_RECONNECT_PAUSE_SECONDS * 2**reconnects)
            try:
                async with self._pool.connection() as conn:
                    cursor = await conn.execute("SELECT txid_status(%s)", (xid,))
                    row = await cursor.fetchone()
            except PoolTimeout:
                break
            except psycopg.OperationalError:
                continue
            status = str(row[0]) if row else None
            if status in ("committed", "aborted"):
                return status == "committed"
            # "in progress": the broken session's backend has not finished with it yet
        raise self._unavailable("the connection broke during a commit, whose outcome is unknown") from error

    async def _drop_lost_connections(self) -> None:
        """After a connection turned out dead (the server restarted, say), let the pool test
        its idle ones and replace those that are gone too, so the retry gets a live one."""
        await self._pool.check()

    def change_token(self) -> int:
        if not self._listening:
            self._token += 1  # deaf to other instances: every lookup must ask the database
        return self._token

    async def transact(self, work: Work[T], invalidates: bool = True, durable: bool = True) -> T:
        reconnects = 0
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            xid: int | None = None  # known once COMMIT is all that is left to send
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    if not durable:
                        await conn.execute("SET LOCAL synchronous_commit = off")
                    result = await work(_PostgresTransaction(conn))
                    cursor = await conn.execute(_BEFORE_COMMIT if invalidates else _BEFORE_QUIET_COMMIT)
                    xid = (await cursor.fetchone() or (None,))[0]
            except _RETRYABLE as conflict:
                if attempt == _MAX_ATTEMPTS:
                    raise WriteContention(f"gave up after {attempt} attempts: {_one_line(conflict)}") from conflict
                await asyncio.sleep(random.uniform(0, min(0.001 * 2**attempt, 0.1)))
                continue
            except psycopg.Error as error:
                if xid is None or not await self._committed(xid, error):
                    await self._after_failure(error, reconnects)
                    reconnects += 1
                    continue
            if invalidates:
                self._token += 1  # this process sees its own write at once, before the notification
            return result
        raise AssertionError("unreachable")

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT
                ) as conn:
                    await conn.execute("LISTEN " + _CHANNEL)
                    if self._listened_before:  # a reconnection: pooled connections may be dead too
                        await self._drop_lost_connections()
                    self._listening = self._listened_before = True
                    self._token += 1  # whatever was written while nobody listened
                    async for _ in conn.notifies():
                        self._token += 1
            except psycopg.Error as error:
                log.warning("change notifications interrupted (%s); lookups uncached meanwhile", _one_line(error))
            finally:
                self._listening = False
            await asyncio.sleep(_RELISTEN_SECONDS)


class PostgresMetadataStore(SqlMetadataStore):
    def __init__(self, url: str, pool_size: int):
        prepare_database(url)
        super().__init__(PostgresDriver(url, pool_size))
