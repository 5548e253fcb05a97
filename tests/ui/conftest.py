"""Fixtures of the UI tests: one populated dockyard per session, and a real Chromium.

Chromium is Debian's (`.ci/install-ui.sh`), driven by Playwright for Python; no browser is
downloaded. Every page a test opens fails the test on a console error, an uncaught exception, a
failed request or an error response it did not expect. Screenshots go to `test-artifacts/ui/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page
from tests.http.ocitest import RegistryClient
from tests.support.backends import BACKENDS, backend_env
from tests.support.chromium import chromium
from tests.support.server import DockyardServer
from tests.ui.populate import Content, populate, push_image

from dockyard.auth.htpasswd import set_user

ARTIFACTS = Path(os.environ.get("DOCKYARD_TEST_ARTIFACTS", "test-artifacts")) / "ui"


@dataclass
class Populated:
    url: str
    content: Content
    server: DockyardServer


# The UI's queries are the metadata store's: every metadata backend, blobs on the filesystem.
METADATA_BACKENDS = [backend for backend in BACKENDS if backend.endswith("-fs")]


@pytest.fixture(scope="session", params=METADATA_BACKENDS)
def populated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """One populated server per metadata backend: every UI test runs on each."""
    env = {"DOCKYARD_ACCESS_LOG": "false", **backend_env(request, request.param)}
    server = DockyardServer(tmp_path_factory.mktemp(f"ui-{request.param}") / "data", env=env).start()
    try:
        with RegistryClient(server.url) as client:
            content = populate(client)
        yield Populated(server.url, content, server)
    finally:
        server.stop()


# admin may do everything; reader may pull under team/; anyone may pull under public/.
PASSWORDS = {"admin": "admin-ui-secret", "reader": "reader-ui-secret"}


@dataclass
class AuthPopulated:
    url: str
    server: DockyardServer


def auth_config(directory: Path, token: bool = False) -> Path:
    htpasswd = directory / "htpasswd"
    for user, password in PASSWORDS.items():
        set_user(htpasswd, user, password, cost=4)  # cheap bcrypt: tests log in often
    auth = {
        "htpasswd": str(htpasswd),
        "anonymous": ["public/**"],
        "rules": [
            {"repositories": ["**"], "users": ["admin"], "actions": ["pull", "push", "delete", "overwrite"]},
            {"repositories": ["team/**"], "users": ["reader"], "actions": ["pull"]},
        ],
        "failed_logins_per_minute": 1000,
    }
    if token:
        auth["token"] = {"enabled": True, "key_file": str(directory / "token-key.pem")}
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump({"auth": auth}))
    return config


@pytest.fixture(scope="session")
def auth_populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthPopulated]:
    directory = tmp_path_factory.mktemp("ui-auth")
    config = auth_config(directory)
    server = DockyardServer(directory / "data", ["--config", str(config)], env={"DOCKYARD_ACCESS_LOG": "false"})
    server.start()
    try:
        with RegistryClient(server.url) as admin:
            admin.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
            push_image(admin, "public/hello", "1.0")
            for tag in ("1.0", "2.0", "doomed"):
                push_image(admin, "team/app", tag)
        yield AuthPopulated(server.url, server)
    finally:
        server.stop()


@pytest.fixture
def api(populated: Populated) -> Iterator[RegistryClient]:
    with RegistryClient(populated.url) as client:
        yield client


@dataclass
class PageProblems:
    """What went wrong on a page; a test names the error responses it provokes on purpose."""

    errors: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def console(self, kind: str, text: str) -> None:
        # Chromium reports every error response on the console too; expected ones are no problem.
        expected = any(f"status of {status} " in text for status in self.expected_statuses)
        if kind == "error" and not expected:
            self.errors.append(f"console: {text}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def _watched_page(browser: Browser, url: str, problems: PageProblems) -> Iterator[Page]:
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("console", lambda message: problems.console(message.type, message.text))
    tab.on("pageerror", lambda error: problems.errors.append(f"page error: {error}"))
    tab.on("requestfailed", lambda request: problems.errors.append(f"request failed: {request.url} {request.failure}"))
    tab.on(
        "response",
        lambda response: (
            response.status >= 400
            and response.status not in problems.expected_statuses
            and problems.errors.append(f"HTTP {response.status}: {response.url}")
        ),
    )
    yield tab
    context.close()
    assert not problems.errors, "\n".join(problems.errors)


@pytest.fixture
def page(browser: Browser, populated: Populated, problems: PageProblems) -> Iterator[Page]:
    yield from _watched_page(browser, populated.url, problems)


@pytest.fixture
def auth_page(browser: Browser, auth_populated: AuthPopulated, problems: PageProblems) -> Iterator[Page]:
    """A page of the registry with authentication on, not logged in."""
    yield from _watched_page(browser, auth_populated.url, problems)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
