"""Servers with access tokens on, and `dockyard token` run against their configuration and data."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.auth.support import auth_config
from tests.support.server import DockyardServer


def basic_secret(secret: str, user: str = "ci") -> dict[str, str]:
    """Basic credentials with a token as the password (the user name is not what identifies it)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@dataclass
class TokenServers:
    """One or more instances on one configuration (and database, when `env` names a shared one)."""

    directory: Path
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    servers: list[DockyardServer] = field(default_factory=list)

    @classmethod
    def start(cls, directory: Path, *, token_mode: bool, instances: int = 1, env: dict[str, str] | None = None,
              **overrides: Any) -> TokenServers:  # fmt: skip
        config = auth_config(directory, token_mode, access_tokens=True, **overrides)
        started = cls(directory, config, env or {})
        for index in range(instances):
            data = directory / (f"data-{index}" if instances > 1 else "data")
            started.servers.append(DockyardServer(data, ["--config", str(config)], env=started.env).start())
        return started

    @property
    def url(self) -> str:
        return self.servers[0].url

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def dockyard(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A dockyard command on the first instance's configuration and data."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
        data = self.servers[0].data_dir
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard",
                args[0],
                "--config",
                str(self.config),
                "--data-dir",
                str(data),
                *args[1:],
            ],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
            env={**clean, **self.env},
        )

    def create(self, name: str, *owner: str, repositories: str = "team/**", actions: str = "pull,push") -> str:
        """A new token's secret; `owner`: `--user NAME` or `--robot`."""
        done = self.dockyard("token", "create", "--name", name, *owner, "--repositories", repositories,
                             "--actions", actions)  # fmt: skip
        return done.stdout.strip()

    def listed(self) -> dict[str, dict[str, Any]]:
        """The tokens `dockyard token list --json` shows, by name."""
        lines = self.dockyard("token", "list", "--json").stdout.splitlines()
        return {entry["name"]: entry for entry in map(json.loads, lines)}

    def log(self) -> str:
        return "".join(server.log() for server in self.servers)
