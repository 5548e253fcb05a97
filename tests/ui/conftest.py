"""Fixtures of the UI tests: one populated dockyard per session, and a real Chromium.

Chromium is Debian's (`.ci/install-ui.sh`), driven by Playwright for Python; no browser is
downloaded. Every page a test opens fails the test on a console error, an uncaught exception, a
failed request or an error response it did not expect. Screenshots go to `test-artifacts/ui/`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from tests.http.ocitest import RegistryClient
from tests.support.server import DockyardServer
from tests.ui.populate import Content, populate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("DOCKYARD_TEST_ARTIFACTS", "test-artifacts")) / "ui"


@dataclass
class Populated:
    url: str
    content: Content
    server: DockyardServer


@pytest.fixture(scope="session")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    server = DockyardServer(tmp_path_factory.mktemp("ui") / "data", env={"DOCKYARD_ACCESS_LOG": "false"}).start()
    try:
        with RegistryClient(server.url) as client:
            content = populate(client)
        yield Populated(server.url, content, server)
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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian chromium is not installed: run .ci/install-ui.sh")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, populated: Populated, problems: PageProblems) -> Iterator[Page]:
    context = browser.new_context(base_url=populated.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=populated.url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("console", lambda message: message.type == "error" and problems.errors.append(f"console: {message.text}"))
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


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
