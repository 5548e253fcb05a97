"""A token's life: listed without its secret, its last use recorded (in batches), revoked at once,
expired; and its secret never in a log."""

from __future__ import annotations

import asyncio

import httpx
from tests.support.wait import poll
from tests.tokens.support import TokenServers, basic_secret

from dockyard.auth.access_tokens import create_access_token
from dockyard.meta.sqlite import SqliteMetadataStore


def status(servers: TokenServers, secret: str, url: str | None = None) -> int:
    return httpx.get(f"{url or servers.url}/v2/", headers=basic_secret(secret)).status_code


def test_listed_used_revoked(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("short-lived", "--user", "reader", actions="pull")
    listed = basic_tokens.listed()["short-lived"]
    assert listed["user"] == "reader"
    assert not listed["robot"]
    assert listed["repositories"] == ["team/**"]
    assert listed["actions"] == ["pull"]
    assert listed["lastUsed"] is None
    assert secret not in basic_tokens.dockyard("token", "list").stdout
    assert secret[4:] not in str(listed)

    assert status(basic_tokens, secret) == 200
    used = poll(lambda: basic_tokens.listed()["short-lived"]["lastUsed"], 30)
    assert used is not None, "the last use reaches the store within a few seconds"

    revoked = basic_tokens.dockyard("token", "revoke", listed["id"])
    assert listed["id"] in revoked.stdout
    assert status(basic_tokens, secret) == 401, "at once: nothing caches a verified token"
    assert "short-lived" not in basic_tokens.listed()
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


def test_bad_requests_for_tokens_are_refused_with_a_reason(basic_tokens: TokenServers) -> None:
    cases = [
        (["--name", "bad name", "--user", "reader", "--actions", "pull"], "token name"),
        (["--name", "x", "--user", "reader", "--actions", "pull,fly"], "actions must be"),
        (["--name", "x", "--user", "reader", "--actions", "pull", "--expires", "soon"], "expiry"),
        (["--name", "x", "--robot", "--actions", "pull", "--repositories", "../etc"], "repository glob"),
    ]
    for arguments, reason in cases:
        globs = [] if "--repositories" in arguments else ["--repositories", "team/**"]
        done = basic_tokens.dockyard("token", "create", *arguments, *globs, check=False)
        assert done.returncode != 0, arguments
        assert reason in done.stderr, (arguments, done.stderr)
    basic_tokens.create("twice", "--robot")
    done = basic_tokens.dockyard("token", "create", "--name", "twice", "--robot", "--repositories", "a",
                                 "--actions", "pull", check=False)  # fmt: skip
    assert done.returncode != 0
    assert "exists already" in done.stderr


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
