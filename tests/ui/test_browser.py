"""The web UI in a real Chromium against a populated dockyard."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.ui.conftest import Populated, screenshot
from tests.ui.populate import BULK_REPOSITORY, BULK_TAGS, SBOM, SIGNATURE


def test_root_redirects_to_the_repository_list(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/$"))
    expect(page.locator("#repositories tbody tr").first).to_be_visible()
    expect(page.get_by_role("link", name="library/alpine")).to_be_visible()
    screenshot(page, "repositories")
