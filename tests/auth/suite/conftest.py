"""A part of the HTTP suite run again with authentication on: the same tests, their `registry` a server
with Basic or token auth, their `client` an admin who logs in as docker does (reused, not copied)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.auth.support import PASSWORDS, TokenFlow, start_server
from tests.conftest import Registry
from tests.http.conftest import repo
from tests.http.ocitest import RegistryClient

__all__ = ["repo"]


@pytest.fixture(scope="session", params=["basic", "token"])
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    token_mode = request.param == "token"
    server = start_server(tmp_path_factory.mktemp(f"suite-{request.param}"), token_mode=token_mode)
    try:
        yield Registry(url=server.url, server=server)
    finally:
        server.stop()


@pytest.fixture
def client(registry: Registry, request: pytest.FixtureRequest) -> Iterator[RegistryClient]:
    token_mode = "token" in request.node.callspec.id.split("-")
    with RegistryClient(registry.url) as registry_client:
        if token_mode:
            registry_client.http.auth = TokenFlow(registry.url, "admin")
        else:
            registry_client.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
        yield registry_client
