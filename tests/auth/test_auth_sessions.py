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
from tests.auth.support import PASSWORDS, TEST_COST, auth_config, basic
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

from dockyard.auth.htpasswd import set_user

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
            [sys.executable, "-m", "dockyard", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**clean, **self.env, "DOCKYARD_CONFIG": str(self.config)},
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


def add_user(pair: Pair, name: str, password: str) -> None:
    pair.dockyard("user", "add", name, "--password-stdin", stdin=password + "\n")


def logged_in(url: str, name: str, password: str) -> Browser:
    """A browser logged in on `url` (waiting for the instance to read a user just added)."""
    browser = Browser(url)
    wait_until(lambda: browser.log_in(name, password).status_code == 200, 20, f"{name} could not log in")
    return browser


def copy_of(browser: Browser, url: str) -> Browser:
    """Another browser, on `url`, with the first one's cookies: a copied session."""
    other = Browser(url)
    other.http.cookies.set("dockyard_session", browser.http.cookies["dockyard_session"])
    return other


def refresh_token(url: str, name: str, password: str) -> str:
    form = {"grant_type": "password", "username": name, "password": password, "access_type": "offline"}
    response = httpx.post(f"{url}/auth/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["refresh_token"]
    return token


def refreshes(url: str, token: str) -> bool:
    response = httpx.post(f"{url}/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def test_a_changed_password_ends_sessions_and_refresh_tokens_on_every_instance(pair: Pair) -> None:
    add_user(pair, "mover", "first-password")
    browser = logged_in(pair.first.url, "mover", "first-password")
    elsewhere = copy_of(browser, pair.second.url)
    try:
        assert elsewhere.user() == "mover", "one session for every instance"
        token = refresh_token(pair.second.url, "mover", "first-password")
        assert refreshes(pair.first.url, token)
        add_user(pair, "mover", "second-password")
        assert elsewhere.user() is None
        assert browser.user() is None
        assert not refreshes(pair.first.url, token)
        assert not refreshes(pair.second.url, token)
        again = logged_in(pair.second.url, "mover", "second-password")
        assert again.user() == "mover"
        again.close()
    finally:
        browser.close()
        elsewhere.close()


def test_a_password_changed_in_the_file_by_another_tool_ends_sessions(pair: Pair) -> None:
    add_user(pair, "filer", "first-password")
    browser = logged_in(pair.second.url, "filer", "first-password")
    token = refresh_token(pair.first.url, "filer", "first-password")
    try:
        set_user(pair.config.parent / "htpasswd", "filer", "second-password", cost=TEST_COST)  # as htpasswd -B would
        wait_until(lambda: browser.user() is None, 20, "the session outlived the password")
        wait_until(lambda: not refreshes(pair.first.url, token), 20, "the refresh token outlived the password")
    finally:
        browser.close()


def test_logout_revokes_a_copied_cookie_on_every_instance(pair: Pair) -> None:
    browser = logged_in(pair.first.url, "reader", PASSWORDS["reader"])
    copies = [copy_of(browser, pair.first.url), copy_of(browser, pair.second.url)]
    try:
        assert [copy.user() for copy in copies] == ["reader", "reader"]
        assert browser.http.delete(f"{API}/session").status_code == 204
        assert [copy.user() for copy in copies] == [None, None]
        assert logged_in(pair.second.url, "reader", PASSWORDS["reader"]).user() == "reader", "a new login works"
    finally:
        browser.close()
        for copy in copies:
            copy.close()


def test_user_logout_ends_every_session_and_refresh_token(pair: Pair) -> None:
    browser = logged_in(pair.second.url, "writer", PASSWORDS["writer"])
    token = refresh_token(pair.first.url, "writer", PASSWORDS["writer"])
    try:
        assert pair.dockyard("user", "logout", "writer").returncode == 0
        assert browser.user() is None
        assert not refreshes(pair.second.url, token)
        fresh = refresh_token(pair.second.url, "writer", PASSWORDS["writer"])
        assert refreshes(pair.first.url, fresh), "logging in again is not refused"
    finally:
        browser.close()
