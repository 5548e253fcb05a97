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

    def dockyard(self, command: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A dockyard command (`admin read-only` has two words) on the server's stores, with its
        configuration; `args` follow the setting flags."""
        clean = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_")}
        flags = ["--config", str(self.config), "--data-dir", str(self.server.data_dir)]
        command_line = [sys.executable, "-m", "dockyard", *command.split(), *flags, *args]
        return subprocess.run(
            command_line, input=stdin, capture_output=True, text=True, check=True, timeout=60, env={**clean, **self.env}
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
