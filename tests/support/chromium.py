"""Debian's Chromium driven by Playwright (no browser download), for the UI and single sign-on tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed at the end. Open it per module, not per session: Playwright's
    synchronous API keeps an event loop running in this thread while it is open, and later tests
    that call asyncio.run() would find it."""
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian chromium is not installed: run .ci/install-ui.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
