"""One Basic-mode and one token-mode server for the auth tests, with images pushed by the admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.auth.support import basic, start_server
from tests.http.ocitest import Pushed, RegistryClient
from tests.support.server import DockyardServer


@dataclass
class AuthServer:
    server: DockyardServer
    directory: Path
    token_mode: bool

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self) -> RegistryClient:
        """A client that may do everything (Basic credentials, or a token-fetching flow)."""
        client = RegistryClient(self.url)
        client.http.auth = TokenFlow(self.url, "admin") if self.token_mode else httpx.BasicAuth(*_pair("admin"))
        return client


def _pair(user: str) -> tuple[str, str]:
    from tests.auth.support import PASSWORDS  # noqa: PLC0415

    return user, PASSWORDS[user]


class TokenFlow(httpx.Auth):
    """What docker does: on a Bearer challenge, fetch a token for the challenge's scope and retry."""

    requires_request_body = True

    def __init__(self, url: str, user: str):
        self._url = url
        self._user = user
        self._tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        scope = _scope_of_path(request.url.path)
        if scope in self._tokens:
            request.headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "")
        wanted = challenge.split('scope="', 1)[1].split('"', 1)[0] if 'scope="' in challenge else None
        params = [("service", "dockyard")] + ([("scope", wanted)] if wanted else [])
        source = request.url.params.get("from")
        if source and request.url.params.get("mount"):  # docker asks for the mount's source too
            params.append(("scope", f"repository:{source}:pull"))
        answer = httpx.get(f"{self._url}/auth/token", params=params, headers=basic(self._user))
        answer.raise_for_status()
        self._tokens[scope] = answer.json()["token"]
        request.headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        yield request


def _scope_of_path(path: str) -> str:
    """A cache key for tokens: the repository and whether the request writes."""
    for marker in ("/blobs/", "/manifests/", "/tags/", "/referrers/"):
        if marker in path:
            return path.split(marker, 1)[0]
    return path


@pytest.fixture(scope="session")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    directory = tmp_path_factory.mktemp("basic-auth")
    server = start_server(directory, token_mode=False)
    try:
        yield AuthServer(server, directory, token_mode=False)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    directory = tmp_path_factory.mktemp("token-auth")
    server = start_server(directory, token_mode=True)
    try:
        yield AuthServer(server, directory, token_mode=True)
    finally:
        server.stop()


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
