"""The registries replication tests copy to and from, each started once per session and shared:
Distribution 2.8.2 (anonymous, no referrers API, cannot delete a tag alone), dockyard in token mode,
a fault proxy in front of Distribution that tests take down, and the replicating dockyard whose
event rules are below. Each test works in repositories of its own; tests that run rules by hand
or in-process bring their own rules (a `dockyard replicate run` or an in-process composition reads
its own configuration over the same stores)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.remote.conftest import TokenDockyard, distribution, token_dockyard
from tests.remote.support import Distribution
from tests.replication.support import replicating_server, target
from tests.support.faultproxy import FaultProxy
from tests.support.server import DockyardServer

from dockyard.remote import RemoteSettings

__all__ = ["distribution", "token_dockyard"]  # the client's own session registries, shared


def event_rules(distribution: Distribution, token: RemoteSettings, proxy: FaultProxy) -> dict[str, Any]:
    """The replicating server's rules: pushes, tag moves and deletes of `team/*` to both kinds of
    target (test_events.py), and `kill/**` to Distribution through the proxy (test_events.py)."""
    assert token.password is not None
    event_rule = {"direction": "push", "trigger": "event"}
    return {
        "targets": [
            target("dist", distribution.url),
            target("dr", token.url, "admin", token.password.reveal()),
            target("dist-via-proxy", proxy.url),
        ],
        "rules": [
            {
                **event_rule,
                "name": "events-to-dr",
                "target": "dr",
                "repositories": ["team/*"],
                "tags": ["v*", "latest"],
                "delete": True,
            },
            {
                **event_rule,
                "name": "events-to-dist",
                "target": "dist",
                "repositories": ["team/*"],
                "destination": "ev/{repository}",
                "delete": True,
            },
            {**event_rule, "name": "survivor", "target": "dist-via-proxy", "repositories": ["kill/**"]},
        ],
    }


@dataclass
class Source:
    """The replicating dockyard: its server, and where its data is (for in-process runs)."""

    server: DockyardServer
    directory: Path
    """Its data is in directory/data."""

    @property
    def local(self) -> RemoteSettings:
        return RemoteSettings(self.server.url)


@pytest.fixture(scope="session")
def proxy(distribution: Distribution) -> Iterator[FaultProxy]:
    """A way to Distribution that a test takes down and brings back up."""
    with FaultProxy(distribution.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture(scope="session")
def source(
    tmp_path_factory: pytest.TempPathFactory,
    distribution: Distribution,
    token_dockyard: TokenDockyard,
    proxy: FaultProxy,
) -> Iterator[Source]:
    directory = tmp_path_factory.mktemp("source")
    server = replicating_server(directory, event_rules(distribution, token_dockyard.settings("admin"), proxy)).start()
    try:
        yield Source(server, directory)
    finally:
        server.stop()
