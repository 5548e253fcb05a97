"""Fixtures for the notification tests: a receiver, and dockyard servers configured to notify it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.events.receiver import Receiver
from tests.support import metrics
from tests.support.backends import backend_env
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

SECRET = "Bearer sekrit-token-for-the-receiver"

StartServer = Callable[..., DockyardServer]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        receiver.stop()


def endpoint_config(receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    """An endpoint that retries quickly and long, so that tests wait little and lose nothing."""
    return {
        "name": "hook",
        "url": receiver.url,
        "headers": {"Authorization": SECRET},
        "events": ["push", "pull", "delete", "mount"],
        "repositories": ["events/*"],
        "timeout": 1,
        "max_retries": 10_000,
        "backoff_seconds": 0.05,
        "backoff_max_seconds": 0.3,
        **overrides,
    }


@pytest.fixture
def start_server(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[StartServer]:
    """start_server(endpoints, workers=1, instance="data", **settings): a dockyard process notifying
    `endpoints`.
    Every server of a test shares one metadata store (`backend`); each instance name has its own
    data directory, so two names are two instances of one registry."""
    servers: list[DockyardServer] = []
    env = backend_env(request, backend)

    def start(endpoints: list[dict[str, Any]], workers: int = 1, instance: str = "data", **more: Any) -> DockyardServer:
        config = tmp_path / f"config-{len(servers)}.yaml"
        settings = {"log_level": "debug", "notifications": {"poll_seconds": 0.2, "endpoints": endpoints}, **more}
        config.write_text(yaml.safe_dump(settings))
        arguments = ["--config", str(config), "--workers", str(workers)]
        server = DockyardServer(tmp_path / instance, extra_args=arguments, env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
        assert "sekrit" not in server.log()  # the endpoint's Authorization header is never logged


def metric(server: DockyardServer, name: str, endpoint: str = "hook") -> float:
    return metrics.metric(server.url, name, endpoint=endpoint)


def wait_for_metric(server: DockyardServer, name: str, value: float, timeout: float = 60.0) -> None:
    wait_until(
        lambda: metric(server, name) == value, timeout, lambda: f"{name} stayed at {metric(server, name)}, not {value}"
    )
