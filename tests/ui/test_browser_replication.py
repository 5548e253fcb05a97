"""The Replication page in Chromium: a rule whose target refuses connections shows its failed run
and the reason."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.procs import free_port
from playwright.sync_api import Browser, Page, expect
from tests.http.ocitest import RegistryClient
from tests.replication.support import replicating_server
from tests.support.server import DockyardServer
from tests.ui.conftest import PageProblems, _watched_page, screenshot

REPLICATION = {
    "targets": [{"name": "gone", "url": f"http://127.0.0.1:{free_port()}"}],  # nothing listens there
    "rules": [{"name": "to-nowhere", "direction": "push", "target": "gone", "repositories": ["**"]}],
}


@pytest.fixture
def replicating(tmp_path: Path) -> Iterator[DockyardServer]:
    server = replicating_server(tmp_path, REPLICATION, env={"DOCKYARD_ACCESS_LOG": "false"}).start()
    try:  # a run from the command line: Playwright holds this thread's event loop
        with RegistryClient(server.url) as client:
            client.push_image("app", "1.0")
        failed = subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard",
                "replicate",
                "run",
                "to-nowhere",
                "--config",
                str(tmp_path / "config.yaml"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        yield server
    finally:
        server.stop()


@pytest.fixture
def replication_page(browser: Browser, replicating: DockyardServer, problems: PageProblems) -> Iterator[Page]:
    yield from _watched_page(browser, replicating.url, problems)


def test_the_replication_page_shows_rules_and_failures(replication_page: Page) -> None:
    replication_page.goto("/ui/")
    replication_page.get_by_role("link", name="Replication").click()
    rule = replication_page.locator('[data-rule="to-nowhere"]')
    expect(rule).to_contain_text("push to gone, manual")
    expect(rule.get_by_role("alert")).to_contain_text("cannot connect")
    expect(rule.locator("tbody tr")).to_have_count(1)
    expect(rule.locator(".result-failed")).to_have_text("failed")
    screenshot(replication_page, "replication")
