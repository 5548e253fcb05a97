"""Servers with Basic auth and the audit log for the audit tests, on SQLite and on PostgreSQL (the
log is SQL either way: one query set, two engines), and the `dockyard` commands on their stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.auth.support import auth_config
from tests.support.backends import backend_env
from tests.support.server import DockyardServer

METADATA_BACKENDS = ["sqlite-fs", "pg-fs"]
# Pulls of these repositories are audited too.
AUDITED_PULLS = ["team/audited-*"]


@dataclass
class AuditedRegistry:
    server: DockyardServer
    config: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def dockyard(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A dockyard command on the server's stores, with its configuration."""
        clean = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_")}
        command = [sys.executable, "-m", "dockyard", *args, "--config", str(self.config)]
        command += ["--data-dir", str(self.server.data_dir)]
        return subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=60, env={**clean, **self.env}
        )

    def audit(self, *filters: str) -> list[dict[str, Any]]:
        """`dockyard audit --json` with these filters, parsed."""
        lines = self.dockyard("audit", "--json", *filters).stdout.splitlines()
        return [json.loads(line) for line in lines]


def audited_registry(request: pytest.FixtureRequest, backend: str, directory: Path) -> AuditedRegistry:
    env = backend_env(request, backend)
    config = auth_config(directory, token_mode=False)
    settings = yaml.safe_load(config.read_text())
    settings["audit"] = {"pulls": AUDITED_PULLS}
    config.write_text(yaml.safe_dump(settings))
    server = DockyardServer(directory / "data", ["--config", str(config)], env=env)
    return AuditedRegistry(server, config, env)


@pytest.fixture(params=METADATA_BACKENDS)
def registry_of_its_own(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditedRegistry]:
    """A server (not yet started) on a fresh store of the backend, killed at the end."""
    registry = audited_registry(request, request.param, tmp_path)
    try:
        yield registry
    finally:
        registry.server.kill()
