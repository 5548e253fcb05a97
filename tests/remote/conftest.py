"""Remote registries on loopback for the client's tests: Distribution 2.8.2 without auth, and dockyard
with token auth and users (the Docker Hub flow), its access log on so token requests can be counted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.auth.support import PASSWORDS, start_server
from tests.remote.support import Distribution, settled_access_log
from tests.support.server import DockyardServer

from dockyard.remote import RemoteSettings, Secret


@dataclass
class TokenDockyard:
    server: DockyardServer
    directory: Path
    access_log: Path

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, user: str | None = "admin", **extra: Any) -> RemoteSettings:
        if user is None:
            return RemoteSettings(self.url, **extra)
        return RemoteSettings(self.url, username=user, password=Secret(PASSWORDS[user]), **extra)

    def logged(self, needle: str, deadline: float = 15.0) -> int:
        """Requests whose access-log line mentions `needle`, counted once everything sent so far is in
        the log (the log is written by a thread: wait for a marker request to show up)."""
        return sum(needle in line for line in settled_access_log(self.url, self.access_log, deadline))


def start_token_dockyard(directory: Path, **auth: Any) -> TokenDockyard:
    access_log = directory / "access.log"
    server = start_server(directory, True, env={"DOCKYARD_ACCESS_LOG_FILE": str(access_log)}, **auth)
    return TokenDockyard(server, directory, access_log)


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    registry = Distribution(tmp_path_factory.mktemp("distribution")).start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def token_dockyard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenDockyard]:
    registry = start_token_dockyard(tmp_path_factory.mktemp("token-dockyard"))
    try:
        yield registry
    finally:
        registry.server.stop()


@dataclass
class Remote:
    settings: RemoteSettings
    referrers_api: bool
    deletes_tags: bool


@pytest.fixture(params=["distribution", "dockyard-token"])
def remote(request: pytest.FixtureRequest) -> Remote:
    """Each remote the round-trip suite runs against: Distribution (anonymous, no referrers API, no
    deleting tags) and dockyard with the token flow (as admin, who may do everything)."""
    if request.param == "distribution":
        return Remote(
            RemoteSettings(request.getfixturevalue("distribution").url), referrers_api=False, deletes_tags=False
        )
    registry: TokenDockyard = request.getfixturevalue("token_dockyard")
    return Remote(registry.settings("admin"), referrers_api=True, deletes_tags=True)
