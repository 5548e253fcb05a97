"""The access-token store through its interface, on each engine."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from tests.auth.test_auth_revocation import open_store

from dockyard.auth.access_tokens import create_access_token, secret_hash
from dockyard.meta.access_tokens import DuplicateAccessToken


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_tokens_are_stored_by_hash_listed_and_revoked(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres_database = request.getfixturevalue("postgres_database") if engine == "postgres" else lambda: {}

    async def run() -> None:
        store = open_store(engine, tmp_path, postgres_database)
        await store.start()
        try:
            mine = await create_access_token(
                store, name="ci", owner="alice", repositories=["team/**"], actions=["push", "pull"], lifetime=None,
                created_by="alice",
            )  # fmt: skip
            robot = await create_access_token(
                store, name="ci", owner=None, repositories=["a", "b/*"], actions=["pull"], lifetime=3600,
                created_by="admin",
            )  # fmt: skip
            with pytest.raises(DuplicateAccessToken):
                await create_access_token(
                    store, name="ci", owner="alice", repositories=["x"], actions=["pull"], lifetime=None,
                    created_by="alice",
                )  # fmt: skip
            found = await store.access_token_by_hash(secret_hash(mine.secret))
            assert found == mine.record
            assert found.actions == ("pull", "push")
            assert await store.access_token_by_hash(secret_hash(mine.secret + "x")) is None
            robot_found = await store.access_token_by_hash(secret_hash(robot.secret))
            assert robot_found is not None
            assert robot_found.owner is None
            assert robot_found.repositories == ("a", "b/*")

            assert [t.name for t in await store.access_tokens("alice", robots=False)] == ["ci"]
            assert [t.owner for t in await store.access_tokens("alice", robots=True)] == [None, "alice"]
            assert [t.owner for t in await store.access_tokens(None, robots=False)] == ["alice"]
            assert len(await store.access_tokens()) == 2

            now = time.time()
            await store.record_access_token_uses({mine.record.token_id: now, robot.record.token_id: now - 10})
            await store.record_access_token_uses({mine.record.token_id: now - 5})  # an older use changes nothing
            used = await store.access_token_by_hash(secret_hash(mine.secret))
            assert used is not None
            assert used.last_used_at == pytest.approx(now)

            assert not await store.revoke_access_token(robot.record.token_id, owner="alice"), "not alice's"
            assert await store.revoke_access_token(mine.record.token_id, owner="alice")
            assert await store.access_token_by_hash(secret_hash(mine.secret)) is None
            assert await store.revoke_access_token(robot.record.token_id)
            assert await store.access_tokens() == []
        finally:
            await store.close()

    asyncio.run(run())
