"""Revocation through its interface, on the metadata store of each engine: what binds a session or
refresh token to its subject's credential, and what ends it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.auth.revocation import Revocation
from dockyard.meta import postgres, sqlite
from dockyard.meta.store import MetadataStore


def open_store(engine: str, tmp_path: Path, postgres_database: Callable[[], dict[str, str]]) -> MetadataStore:
    if engine == "sqlite":
        sqlite.prepare_database(tmp_path / "metadata.db")
        return sqlite.SqliteMetadataStore(tmp_path / "metadata.db")
    url = postgres_database()["DOCKYARD_DATABASE__URL"]
    postgres.prepare_database(url)
    return postgres.PostgresMetadataStore(url, 2)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_what_binds_a_session_and_what_ends_it(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    stamps = {"alice": "stamp-1", "bob": "stamp-b"}
    postgres_database = request.getfixturevalue("postgres_database") if engine == "postgres" else lambda: {}

    async def run() -> None:
        store = open_store(engine, tmp_path, postgres_database)
        await store.start()
        try:
            revocation = Revocation(store, lambda subject: stamps.get(subject, ""))
            first = await revocation.bind("alice")
            assert first.version == 0
            assert await revocation.holds("alice", first, "session-1")
            assert await revocation.holds("alice", first, "session-2")
            await revocation.revoke("session-1", time.time() + 3600)
            assert not await revocation.holds("alice", first, "session-1"), "a revoked session"
            assert await revocation.holds("alice", first, "session-2"), "revoking one ends no other"
            await revocation.revoke("session-2", time.time() - 1)  # past its expiry: nothing to remember
            assert await revocation.holds("alice", first, "session-2")
            stamps["alice"] = "stamp-2"
            assert not await revocation.holds("alice", first, "session-2"), "a changed password"
            second = await revocation.bind("alice")
            bob = await revocation.bind("bob")
            await revocation.end_sessions("alice")
            assert not await revocation.holds("alice", second, "session-3"), "every session of the user"
            assert await revocation.holds("bob", bob, "session-4"), "and only of that user"
            third = await revocation.bind("alice")
            assert third.version == second.version + 1
            assert await revocation.holds("alice", third, "session-5"), "a new login holds"
        finally:
            await store.close()

    asyncio.run(run())
