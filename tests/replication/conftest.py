"""The registries replication tests copy to and from, one of each per session: Distribution 2.8.2
(anonymous, no referrers API, cannot delete a tag alone) and dockyard in token mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.remote.conftest import TokenDockyard, start_token_dockyard
from tests.remote.support import Distribution

from dockyard.remote import RemoteSettings


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


def target(name: str, url: str, user: str | None = None, password: str | None = None) -> dict[str, str]:
    entry = {"name": name, "url": url}
    if user is not None and password is not None:
        entry |= {"username": user, "password": password}
    return entry


@pytest.fixture
def distribution_settings(distribution: Distribution) -> RemoteSettings:
    return RemoteSettings(distribution.url)
