"""The Audit page in Chromium: an administrator sees who pushed what, and filters it; anyone else is
told the page is for administrators."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.ui.conftest import PageProblems, screenshot
from tests.ui.test_browser_auth import log_in


def test_an_administrator_reads_and_filters_the_audit_log(auth_page: Page) -> None:
    auth_page.goto("/ui/")
    log_in(auth_page, "admin")
    expect(auth_page.locator("#user")).to_have_text("Signed in as admin")
    auth_page.get_by_role("link", name="Audit").click()
    expect(auth_page.locator("#audit tbody tr[data-action=push]").first).to_contain_text("admin")
    filters = auth_page.locator("#audit-filters")
    filters.get_by_label("Repository").fill("public/hello")
    filters.get_by_role("button", name="Filter").click()
    rows = auth_page.locator("#audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("public/hello:1.0")
    expect(rows.first.locator(".badge")).to_have_text("push")
    screenshot(auth_page, "audit")


def test_the_audit_log_is_for_administrators_only(auth_page: Page, problems: PageProblems) -> None:
    problems.expected_statuses.update({401, 403})
    auth_page.goto("/ui/#/audit")
    expect(auth_page.get_by_role("alert")).to_contain_text("log in as an administrator to see the audit log")
    log_in(auth_page, "reader")
    expect(auth_page.locator("#user")).to_have_text("Signed in as reader")
    auth_page.get_by_role("link", name="Audit").click()
    expect(auth_page.get_by_role("alert")).to_contain_text("reader is no administrator")
