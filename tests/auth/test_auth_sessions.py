"""Sessions across instances: two dockyard instances on one PostgreSQL database, in token mode with the
web UI. Logging in works while the registry is read-only; a changed password, a revocation and a
logout end UI sessions and refresh tokens on every instance."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.auth.support import PASSWORDS, auth_config, basic
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

API = "/v2/_dockyard"


@dataclass
class Pair:
    first: DockyardServer
    second: DockyardServer
    config: Path
    env: dict[str, str]

    def dockyard(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A dockyard command with the instances' configuration and database."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
        return subprocess.run(
            [sys.executable, "-m", "dockyard", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**clean, **self.env},
        )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, postgres_database: Callable[[], dict[str, str]]) -> Iterator[Pair]:
    directory = tmp_path_factory.mktemp("sessions")
    config = auth_config(directory, token_mode=True)
    # Both instances share the database, the users, the token key and the UI session key.
    env = {**postgres_database(), "DOCKYARD_UI__SESSION_KEY_FILE": str(directory / "ui-session.key")}
    first = DockyardServer(directory / "first", ["--config", str(config)], env=env).start()
    second = DockyardServer(directory / "second", ["--config", str(config)], env=env).start()
    try:
        yield Pair(first, second, config, env)
    finally:
        first.stop()
        second.stop()


class Browser:
    """A client that keeps cookies and sends the CSRF header, as the UI's script does."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url)
        self.http.headers["x-dockyard-csrf"] = self.http.get(f"{API}/session").json()["csrf"]

    def log_in(self, user: str, password: str | None = None) -> httpx.Response:
        return self.http.post(f"{API}/session", headers=basic(user, password))

    def user(self) -> str | None:
        user: str | None = self.http.get(f"{API}/session").json()["user"]
        return user

    def close(self) -> None:
        self.http.close()


def test_logins_work_while_the_registry_is_read_only(pair: Pair) -> None:
    pair.dockyard("admin", "read-only", "on")
    try:
        wait_until(
            lambda: httpx.post(f"{pair.second.url}/v2/team/ro/blobs/uploads/").status_code == 405,
            20,
            "the instance to become read-only",
        )
        form = {"grant_type": "password", "username": "reader", "password": PASSWORDS["reader"], "service": "dockyard"}
        assert httpx.post(f"{pair.second.url}/auth/token", data=form).status_code == 200
        browser = Browser(pair.second.url)
        try:
            assert browser.log_in("reader").status_code == 200
            assert browser.user() == "reader"
            assert browser.http.delete(f"{API}/session").status_code == 204
        finally:
            browser.close()
    finally:
        pair.dockyard("admin", "read-only", "off")
