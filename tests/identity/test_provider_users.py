"""Users an identity provider vouched for, kept in the metadata store (SQLite and PostgreSQL): known by
name with the groups of their last login, never by a password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dockyard.auth.sources import Identity, ProviderUserSource, Verdict
from dockyard.config.settings import Settings
from dockyard.meta.factory import open_metadata_store, prepare_metadata_store


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = (
        request.getfixturevalue("postgres_database")()["DOCKYARD_DATABASE__URL"]
        if request.param == "postgres"
        else None
    )
    return Settings(data_dir=tmp_path, database={"url": url})


async def _scenario(settings: Settings) -> None:
    store = open_metadata_store(settings)
    await store.start()
    try:
        users = ProviderUserSource(store, cache_seconds=60)
        assert await users.lookup("alice") is None
        await users.remember(Identity("alice", frozenset({"developers", "maintainers"})))
        assert await users.lookup("alice") == Identity("alice", frozenset({"developers", "maintainers"}))
        await users.remember(Identity("alice", frozenset({"readers"})))  # the next login replaces them
        assert await users.lookup("alice") == Identity("alice", frozenset({"readers"}))
        assert await users.verify("alice", "any password") is Verdict.UNKNOWN
        assert await users.lookup("bob") is None
    finally:
        await store.close()


def test_provider_users_are_known_by_their_last_login(settings: Settings) -> None:
    prepare_metadata_store(settings)
    asyncio.run(_scenario(settings))
