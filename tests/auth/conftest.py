"""One Basic-mode and one token-mode server for the auth tests, with images pushed by the admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.auth.support import AuthServer, running
from tests.http.ocitest import Pushed


@pytest.fixture(scope="session")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with running(tmp_path_factory.mktemp("basic-auth"), token_mode=False) as server:
        yield server


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with running(tmp_path_factory.mktemp("token-auth"), token_mode=True) as server:
        yield server


@pytest.fixture(params=["basic", "token"])
def auth_server(request: pytest.FixtureRequest) -> AuthServer:
    server: AuthServer = request.getfixturevalue(f"{request.param}_server")
    return server


@dataclass
class Seeded:
    repository: str
    image: Pushed


def seed(server: AuthServer, repository: str) -> Seeded:
    with server.admin() as admin:
        return Seeded(repository, admin.push_image(repository, "v1"))
