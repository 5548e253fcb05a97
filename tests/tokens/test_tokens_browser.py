"""The Access tokens page in Chromium: log in, create a token, see its secret once, use it, revoke it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.auth.support import PASSWORDS
from tests.tokens.support import TokenServers, basic_secret
from tests.ui.conftest import PageProblems, _watched_page, screenshot


@pytest.fixture
def tokens_page(browser: Browser, basic_tokens: TokenServers, problems: PageProblems) -> Iterator[Page]:
    yield from _watched_page(browser, basic_tokens.url, problems)


def test_create_use_and_revoke_a_token_in_the_ui(tokens_page: Page, basic_tokens: TokenServers) -> None:
    page = tokens_page
    page.goto("/ui/")
    page.get_by_role("button", name="Log in").first.click()
    dialog = page.locator("#login-dialog")
    dialog.get_by_label("User name").fill("writer")
    dialog.get_by_label("Password").fill(PASSWORDS["writer"])
    dialog.get_by_label("Password").press("Enter")
    expect(page.locator("#user")).to_have_text("Signed in as writer")
    page.locator("#tokens-link").click()
    expect(page.locator("h1")).to_have_text("Access tokens")
    expect(page.locator("#token-form")).not_to_contain_text("Robot token")

    form = page.locator("#token-form")
    form.get_by_label("Name").fill("browser-made")
    form.get_by_label("Repositories").fill("team/**")
    form.get_by_label("push").check()
    form.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-secret")).to_contain_text("not shown again")
    secret = page.locator("#secret").inner_text()
    assert secret.startswith("dyd_")
    expect(page.locator("#tokens tr[data-token=browser-made]")).to_contain_text("pull, push")
    screenshot(page, "access-tokens")
    assert httpx.get(f"{basic_tokens.url}/v2/", headers=basic_secret(secret)).status_code == 200

    page.reload()
    expect(page.locator("#tokens")).to_contain_text("browser-made")
    expect(page.locator("#token-secret")).to_have_count(0)
    assert secret not in page.content(), "the secret is shown once"

    page.get_by_role("button", name="Revoke token browser-made").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#toast")).to_contain_text("Token browser-made revoked")
    expect(page.locator("tr[data-token=browser-made]")).to_have_count(0)
    assert httpx.get(f"{basic_tokens.url}/v2/", headers=basic_secret(secret)).status_code == 401
