"""Two instances on one PostgreSQL database: a token works on both, and its revocation holds on both at
once (each use reads the shared store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.tokens.support import TokenServers, basic_secret


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: Callable[[], dict[str, str]]
) -> Iterator[TokenServers]:
    servers = TokenServers.start(
        tmp_path_factory.mktemp("tokens-pair"), token_mode=False, instances=2, env=postgres_database()
    )
    try:
        yield servers
    finally:
        servers.stop()


def statuses(servers: TokenServers, secret: str) -> list[int]:
    return [httpx.get(f"{server.url}/v2/", headers=basic_secret(secret)).status_code for server in servers.servers]


def test_revocation_holds_at_once_on_every_instance(pair: TokenServers) -> None:
    secret = pair.create("shared", "--robot", actions="pull")
    kept = pair.create("kept", "--robot", actions="pull")
    assert statuses(pair, secret) == [200, 200]
    token_id = pair.listed()["shared"]["id"]
    pair.dockyard("token", "revoke", token_id)
    assert statuses(pair, secret) == [401, 401]
    assert statuses(pair, kept) == [200, 200], "revoking one token leaves the others"
