"""The web UI in Chromium with authentication on: anonymous browsing, logging in, deleting."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.ui.conftest import PASSWORDS, PageProblems, screenshot


def log_in(page: Page, user: str, password: str | None = None) -> None:
    page.get_by_role("button", name="Log in").first.click()
    dialog = page.locator("#login-dialog")
    dialog.get_by_label("User name").fill(user)
    dialog.get_by_label("Password").fill(password or PASSWORDS[user])
    dialog.get_by_label("Password").press("Enter")


def test_anonymous_visitors_see_only_what_anyone_may_pull(auth_page: Page) -> None:
    auth_page.goto("/ui/")
    expect(auth_page.locator("#repositories tbody tr")).to_have_count(1)
    expect(auth_page.get_by_role("link", name="public/hello")).to_be_visible()
    expect(auth_page.locator("#anonymous-hint")).to_be_visible()
    auth_page.get_by_role("link", name="public/hello").click()
    expect(auth_page.locator("#tags tbody tr")).to_have_count(1)
    expect(auth_page.locator("[data-delete-tag]")).to_have_count(0)
    auth_page.get_by_role("link", name="1.0", exact=True).click()
    expect(auth_page.locator("#digest")).to_be_visible()
    expect(auth_page.locator("#delete-manifest")).to_have_count(0)


def test_a_private_repository_asks_anonymous_visitors_to_log_in(auth_page: Page, problems: PageProblems) -> None:
    problems.expected_statuses.add(401)
    auth_page.goto("/ui/#/r/team/app")
    expect(auth_page.get_by_role("alert")).to_contain_text("log in to pull team/app")
    auth_page.get_by_role("alert").get_by_role("button", name="Log in").click()
    dialog = auth_page.locator("#login-dialog")
    dialog.get_by_label("User name").fill("reader")
    dialog.get_by_label("Password").fill(PASSWORDS["reader"])
    dialog.get_by_role("button", name="Log in").click()
    expect(auth_page.locator("#tags")).to_contain_text("2.0")


def test_wrong_password_is_refused_in_the_dialog(auth_page: Page, problems: PageProblems) -> None:
    problems.expected_statuses.add(401)
    auth_page.goto("/ui/")
    log_in(auth_page, "admin", "not the password")
    expect(auth_page.locator("#login-error")).to_have_text("Wrong user name or password.")
    expect(auth_page.locator("#login-dialog")).to_be_visible()


def test_log_in_and_delete_a_tag(auth_page: Page) -> None:
    auth_page.goto("/ui/")
    log_in(auth_page, "admin")
    expect(auth_page.locator("#user")).to_have_text("Signed in as admin")
    cookie = next(c for c in auth_page.context.cookies() if c["name"] == "dockyard_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    auth_page.get_by_role("link", name="team/app").click()
    expect(auth_page.locator("#tags")).to_contain_text("doomed")
    screenshot(auth_page, "tags-admin")
    auth_page.get_by_role("button", name="Delete tag doomed").click()
    confirm = auth_page.locator("#confirm-dialog")
    expect(confirm).to_contain_text("Delete tag doomed of team/app?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(auth_page.locator("#tags")).to_contain_text("doomed")
    auth_page.get_by_role("button", name="Delete tag doomed").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(auth_page.locator("#toast")).to_contain_text("Tag doomed deleted")
    expect(auth_page.locator("#tags")).not_to_contain_text("doomed")
    expect(auth_page.locator("#tags")).to_contain_text("2.0")


def test_a_user_without_delete_permission_sees_no_delete_control(auth_page: Page) -> None:
    auth_page.goto("/ui/")
    log_in(auth_page, "reader")
    expect(auth_page.locator("#user")).to_have_text("Signed in as reader")
    auth_page.get_by_role("link", name="team/app").click()
    expect(auth_page.locator("#tags tbody tr").first).to_be_visible()
    expect(auth_page.locator("[data-delete-tag]")).to_have_count(0)
    expect(auth_page.get_by_role("button", name="Delete")).to_have_count(0)
    auth_page.get_by_role("link", name="1.0", exact=True).click()
    expect(auth_page.locator("#digest")).to_be_visible()
    expect(auth_page.locator("#delete-manifest")).to_have_count(0)
    screenshot(auth_page, "manifest-reader")


def test_log_out(auth_page: Page) -> None:
    auth_page.goto("/ui/")
    log_in(auth_page, "reader")
    expect(auth_page.locator("#repositories tbody tr")).to_have_count(2)
    auth_page.get_by_role("button", name="Log out").click()
    expect(auth_page.get_by_role("button", name="Log in")).to_be_visible()
    expect(auth_page.locator("#repositories tbody tr")).to_have_count(1)
