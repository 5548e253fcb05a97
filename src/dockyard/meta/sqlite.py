"""The embedded metadata engine: one SQLite database in WAL mode, shared by every local process.

Reads run inline on the event loop: they are indexed lookups that finish in microseconds and
never wait for writers under WAL. Writes go to one thread per process that owns the write
connection; every write is a single IMMEDIATE transaction committed with a full fsync, so an
acknowledged write survives a crash, and the fsync never blocks the event loop. The change token
is a memory-mapped word beside the database (meta/generation.py) that every writer replaces.

A write that fails because the disk is full or read-only raises the matching StoreFault, and always
leaves the connection outside any transaction, so writes succeed again once the disk takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from dockyard import durable
from dockyard.core.errors import OutOfSpace, ReadOnlyStorage, StoreFault, StoreUnavailable
from dockyard.meta.driver import Dialect, Params, Row, Work, run_without_suspending
from dockyard.meta.errors import MetadataUnavailable
from dockyard.meta.generation import Generation
from dockyard.meta.migrate import apply_migrations
from dockyard.meta.sql import SqlMetadataStore
from dockyard.telemetry.disk import check_room

T = TypeVar("T")

# BEGIN IMMEDIATE already runs one writer at a time: there is nothing to skip.
SQLITE = Dialect(name="sqlite", skip_locked="")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def prepare_database(path: Path) -> None:
    """Create the database if need be and bring its schema up to date; MetadataUnavailable with a
    one-line reason if that fails (SQLite must write beside the database even to read it)."""
    # The database file's entry needs no sync of ours: SQLite syncs the directory when it creates
    # a journal or WAL there, before anything is committed, and that covers the earlier entry too.
    durable.make_dirs(path.parent)
    try:
        apply_migrations(f"sqlite:///{path}", "sqlite")
    except sqlite3.Error as error:
        try:
            check_room(path.parent)
        except StoreFault as fault:  # the likely reason, named as such
            raise MetadataUnavailable(f"cannot use SQLite at {path}: {error} ({fault})") from None
        raise MetadataUnavailable(f"cannot use SQLite at {path}: {error}") from None


def _fault_of(error: sqlite3.Error, path: Path) -> StoreFault | None:
    """The store fault behind a failed write, if it is one. SQLite reports a read-only filesystem
    as an I/O error, so that one is told apart by asking the filesystem."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    where = f"metadata database {path}: {error}"
    if code == sqlite3.SQLITE_FULL:
        return OutOfSpace(where)
    if code == sqlite3.SQLITE_READONLY:
        return ReadOnlyStorage(where)
    if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        try:
            check_room(path.parent)
        except StoreFault as cause:
            return type(cause)(where)
        return StoreUnavailable(where)
    if code == sqlite3.SQLITE_BUSY:  # another process held the write lock past busy_timeout
        return StoreUnavailable(where)
    return None


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        self._conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()


class SqliteDriver:
    dialect = SQLITE

    def __init__(self, path: Path):
        prepare_database(path)
        self._path = path
        self._reader = _connect(path)
        self._writer_conn = _connect(path)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dockyard-sqlite")
        self._generation = Generation(path.with_name(path.name + ".generation"))
        self.change_token = self._generation.current

    async def start(self) -> None:
        pass  # connected on construction: SQLite needs no event loop

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._writer_conn.close()
        self._reader.close()
        self._generation.close()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._reader.execute(sql, params).fetchone()
        return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._reader.execute(sql, params).fetchall()

    async def transact(self, work: Work[T], invalidates: bool = True, durable: bool = True) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._transaction, work, invalidates, durable)

    def _transaction(self, work: Work[T], invalidates: bool, durable: bool) -> T:
        conn = self._writer_conn
        if not durable:
            # In WAL mode, NORMAL commits without an fsync; the next FULL commit syncs this one too.
            conn.execute("PRAGMA synchronous = NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = run_without_suspending(work(_SqliteTransaction(conn)))
            conn.execute("COMMIT")
        except BaseException as error:
            self._leave_transaction()
            fault = _fault_of(error, self._path) if isinstance(error, sqlite3.Error) else None
            if fault is not None:
                raise fault from error
            raise
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous = FULL")
        if invalidates:
            self._generation.advance()
        return result

    def _leave_transaction(self) -> None:
        """Roll back what a failed write left open. SQLite may have rolled back already (a full disk
        makes it), and then a ROLLBACK fails: its error must not hide the one that matters."""
        if self._writer_conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._writer_conn.execute("ROLLBACK")


class SqliteMetadataStore(SqlMetadataStore):
    def __init__(self, path: Path):
        super().__init__(SqliteDriver(path))
        self._directory = path.parent

    async def ping(self) -> None:
        """A query, and room on the database's disk: on a full or read-only one every write fails."""
        await super().ping()
        await asyncio.get_running_loop().run_in_executor(None, check_room, self._directory)
