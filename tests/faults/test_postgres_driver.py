"""The PostgreSQL engine when its connection breaks inside a write: repeated on a fresh connection when
the write was not made, answered as made when it was, never made twice, and unavailable (503) when
the server stays away. Exercised through the driver's own interface on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from bench.postgres import PostgresCluster
from tests.faults.pgwire import CommitReplyCutter

from dockyard.core.errors import StoreUnavailable
from dockyard.meta.driver import Transaction
from dockyard.meta.postgres import PostgresDriver

pytestmark = pytest.mark.slow


@pytest.fixture
def database(postgres_cluster: PostgresCluster) -> str:
    url = postgres_cluster.create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE counter (n integer NOT NULL)")
        conn.execute("INSERT INTO counter VALUES (0)")
        conn.execute("CREATE SEQUENCE shots")
    return url


def counted(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT n FROM counter").fetchone()
    assert row is not None
    return int(row[0])


def via_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{port}"))


Work = Callable[[Transaction], Awaitable[int]]


KILL_MY_CONNECTION = "SELECT pg_terminate_backend(pg_backend_pid())"


def increment(calls: list[int], first: str | None = None, *, always: bool = False) -> Work:
    """A write that adds one to the counter and notes each run; `first` is run before it the first
    time (every time, with `always`)."""

    async def work(tx: Transaction) -> int:
        calls.append(1)
        if first is not None and (always or len(calls) == 1):
            await tx.fetch_one(first)
        await tx.execute("UPDATE counter SET n = n + 1")
        return len(calls)

    return work


async def transact(url: str, work: Work) -> int:
    driver = PostgresDriver(url, pool_size=2)
    await driver.start()
    try:
        return await driver.transact(work)
    finally:
        await driver.close()


def test_a_write_whose_connection_breaks_midway_is_made_once_on_a_fresh_one(database: str) -> None:
    calls: list[int] = []
    asyncio.run(transact(database, increment(calls, first=KILL_MY_CONNECTION)))
    assert len(calls) == 2
    assert counted(database) == 1


def test_a_commit_the_server_aborts_as_its_connection_breaks_is_made_again(database: str) -> None:
    """The connection breaks after COMMIT was sent, before the server made it: asked, the server says
    the transaction was aborted, so it is safe to make it again."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION die_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('shots') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
            "RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER at_commit AFTER UPDATE ON counter DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION die_once()"
        )
    calls: list[int] = []
    asyncio.run(transact(database, increment(calls)))
    assert len(calls) == 2
    assert counted(database) == 1


def test_a_commit_whose_answer_is_lost_is_answered_as_made_and_never_made_again(
    database: str, postgres_cluster: PostgresCluster
) -> None:
    async def run() -> tuple[int, int]:
        async with CommitReplyCutter(postgres_cluster.port) as relay:
            relay.armed = 1
            result = await transact(via_port(database, relay.port), increment(calls))
            return result, relay.cut

    calls: list[int] = []
    result, cut = asyncio.run(run())
    assert cut == 1
    assert (result, len(calls)) == (1, 1)
    assert counted(database) == 1


def test_a_connection_that_keeps_breaking_makes_the_write_unavailable(database: str) -> None:
    calls: list[int] = []
    with pytest.raises(StoreUnavailable):
        asyncio.run(transact(database, increment(calls, first=KILL_MY_CONNECTION, always=True)))
    assert len(calls) == 4  # the first try and three on fresh connections: bounded
    assert counted(database) == 0
