"""One Basic-mode and one token-mode server with access tokens on, shared by the token tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.tokens.support import TokenServers
from tests.ui.conftest import browser, problems  # noqa: F401 - Chromium for the Access tokens page


@pytest.fixture(scope="session")
def basic_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServers]:
    servers = TokenServers.start(tmp_path_factory.mktemp("tokens-basic"), token_mode=False)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def bearer_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServers]:
    servers = TokenServers.start(tmp_path_factory.mktemp("tokens-bearer"), token_mode=True)
    try:
        yield servers
    finally:
        servers.stop()
