"""A token's life: listed without its secret, its last use recorded (in batches), revoked at once,
expired; and its secret never in a log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.support.wait import poll
from tests.tokens.support import TokenServers, basic_secret

from dockyard.auth.access_tokens import InvalidAccessToken, create_access_token, parse_lifetime
from dockyard.meta import sqlite
from dockyard.meta.sqlite import SqliteMetadataStore


def status(servers: TokenServers, secret: str, url: str | None = None) -> int:
    return httpx.get(f"{url or servers.url}/v2/", headers=basic_secret(secret)).status_code


def last_used(servers: TokenServers, name: str) -> float | None:
    """Read from the store itself: polling through `dockyard token list` would start a process a time."""

    async def read() -> float | None:
        store = SqliteMetadataStore(servers.servers[0].data_dir / "metadata.db")
        await store.start()
        try:
            return next(token.last_used_at for token in await store.access_tokens() if token.name == name)
        finally:
            await store.close()

    return asyncio.run(read())


def test_listed_used_revoked(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("short-lived", "--user", "reader", actions="pull")
    listed = basic_tokens.listed()["short-lived"]
    assert listed["user"] == "reader"
    assert not listed["robot"]
    assert listed["repositories"] == ["team/**"]
    assert listed["actions"] == ["pull"]
    assert listed["lastUsed"] is None
    assert secret[4:] not in str(listed)

    assert status(basic_tokens, secret) == 200
    assert poll(lambda: last_used(basic_tokens, "short-lived"), 30), "the last use reaches the store in seconds"

    revoked = basic_tokens.dockyard("token", "revoke", listed["id"])
    assert listed["id"] in revoked.stdout
    assert status(basic_tokens, secret) == 401, "at once: nothing caches a verified token"
    again = basic_tokens.dockyard("token", "revoke", listed["id"], check=False)
    assert again.returncode != 0
    assert "no token" in again.stderr


def test_an_expired_token_is_refused(basic_tokens: TokenServers) -> None:
    async def create() -> str:
        store = SqliteMetadataStore(basic_tokens.servers[0].data_dir / "metadata.db")
        await store.start()
        try:
            created = await create_access_token(
                store, name="brief", owner="reader", repositories=["team/**"], actions=["pull"], lifetime=2,
                created_by="test",
            )  # fmt: skip
            return created.secret
        finally:
            await store.close()

    secret = asyncio.run(create())
    assert poll(lambda: status(basic_tokens, secret) == 401, 30), "refused once expired"


@pytest.mark.parametrize(
    ("name", "repositories", "actions", "reason"),
    [
        ("bad name", ["team/**"], ["pull"], "token name"),
        ("x", ["team/**"], ["pull", "fly"], "actions must be"),
        ("x", [], ["pull"], "at least one repository"),
        ("x", ["../etc"], ["pull"], "repository glob"),
        ("x", ["Team/App"], ["pull"], "repository glob"),
    ],
)
def test_what_a_token_cannot_be(
    name: str, repositories: list[str], actions: list[str], reason: str, tmp_path: Path
) -> None:
    async def create() -> None:
        sqlite.prepare_database(tmp_path / "metadata.db")
        store = SqliteMetadataStore(tmp_path / "metadata.db")
        await store.start()
        try:
            with pytest.raises(InvalidAccessToken, match=reason):
                await create_access_token(
                    store, name=name, owner="a", repositories=repositories, actions=actions, lifetime=None,
                    created_by="test",
                )  # fmt: skip
            assert await store.access_tokens() == [], "nothing stored"
        finally:
            await store.close()

    asyncio.run(create())


def test_lifetimes() -> None:
    assert parse_lifetime("90d") == 90 * 86400
    assert parse_lifetime("12h") == 12 * 3600
    assert parse_lifetime("4w") == 28 * 86400
    for wrong in ("soon", "0d", "90", "-1d", "1y", "9999999d"):
        with pytest.raises(InvalidAccessToken, match="expiry"):
            parse_lifetime(wrong)


def test_the_command_refuses_with_a_reason(basic_tokens: TokenServers) -> None:
    basic_tokens.create("twice", "--robot")
    done = basic_tokens.dockyard("token", "create", "--name", "twice", "--robot", "--repositories", "a",
                                 "--actions", "pull", check=False)  # fmt: skip
    assert done.returncode != 0
    assert "exists already" in done.stderr
    done = basic_tokens.dockyard("token", "create", "--name", "x", "--robot", "--repositories", "a",
                                 "--actions", "pull", "--expires", "soon", check=False)  # fmt: skip
    assert done.returncode != 0
    assert "expiry" in done.stderr
    ghost = basic_tokens.dockyard("token", "create", "--name", "ghost", "--user", "ghost", "--repositories", "a",
                                  "--actions", "pull")  # fmt: skip
    assert "no user 'ghost'" in ghost.stderr, "created, with a note"
    assert httpx.get(f"{basic_tokens.url}/v2/", headers=basic_secret(ghost.stdout.strip())).status_code == 401


def test_a_removed_owners_tokens_stop_working(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("orphan", "--user", "nobody", actions="pull")
    assert status(basic_tokens, secret) == 200
    basic_tokens.dockyard("user", "remove", "nobody")
    assert poll(lambda: status(basic_tokens, secret) == 401, 30), "refused once the owner is gone"


def test_secrets_never_reach_the_log(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("logged", "--user", "writer", actions="pull")
    status(basic_tokens, secret)
    wrong = secret[:-4] + "AAAA"
    assert status(basic_tokens, wrong) == 401
    log = basic_tokens.log()
    assert "failed login with an access token" in log, "the failure is logged, without the secret"
    assert secret[4:] not in log
    assert wrong[4:] not in log


def test_access_tokens_need_authentication_on(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.yaml"
    config.write_text("auth:\n  access_tokens: true\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    command = [sys.executable, "-m", "dockyard", "config", "check", str(config)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=clean)
    assert checked.returncode != 0
    assert "auth.access_tokens needs authentication on" in checked.stdout + checked.stderr
