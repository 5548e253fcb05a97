"""The Audit page in Chromium: an administrator sees who pushed and deleted what (in the UI too), and
filters it; anyone else is told the page is for administrators."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect
from tests.http.ocitest import RegistryClient
from tests.ui.conftest import PASSWORDS, AuthPopulated, PageProblems, screenshot
from tests.ui.populate import push_image
from tests.ui.test_browser_auth import log_in

# Outside what the other tests' users may see, so that it changes no count of theirs.
REPOSITORY = "ops/audited"


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


def test_a_delete_in_the_ui_is_recorded_under_the_logged_in_user(
    auth_page: Page, auth_populated: AuthPopulated
) -> None:
    with RegistryClient(auth_populated.url) as admin:
        admin.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
        push_image(admin, REPOSITORY, "gone")
    auth_page.goto("/ui/")
    log_in(auth_page, "admin")
    expect(auth_page.locator("#user")).to_have_text("Signed in as admin")
    auth_page.goto(f"/ui/#/r/{REPOSITORY}")
    auth_page.get_by_role("button", name="Delete tag gone").click()
    auth_page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(auth_page.locator("#toast")).to_contain_text("Tag gone deleted")
    auth_page.goto(f"/ui/#/audit?repository={REPOSITORY}")
    deleted = auth_page.locator("#audit tbody tr[data-action=delete]")
    expect(deleted).to_have_count(1)
    who, client, what = (deleted.locator("td").nth(column) for column in (2, 3, 4))
    expect(who).to_have_text("admin")
    expect(client).to_contain_text("127.0.0.1:")
    expect(what).to_have_text(f"{REPOSITORY}:gone")


def test_the_audit_log_is_for_administrators_only(auth_page: Page, problems: PageProblems) -> None:
    problems.expected_statuses.update({401, 403})
    auth_page.goto("/ui/#/audit")
    expect(auth_page.get_by_role("alert")).to_contain_text("log in as an administrator to see the audit log")
    log_in(auth_page, "reader")
    expect(auth_page.locator("#user")).to_have_text("Signed in as reader")
    auth_page.get_by_role("link", name="Audit").click()
    expect(auth_page.get_by_role("alert")).to_contain_text("reader is no administrator")
