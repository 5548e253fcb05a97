"""The web UI in a real Chromium against a populated dockyard."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.ui.conftest import ARTIFACTS, Populated, screenshot
from tests.ui.populate import BULK_REPOSITORY, BULK_TAGS, SBOM, SIGNATURE


def shown(first: int, last: int, total: str) -> str:
    """The pager's text for entries first to last (an en dash between them) of total."""
    return f"{first}\u2013{last} of {total}"


def test_root_redirects_to_the_repository_list(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/$"))
    expect(page.locator("#repositories tbody tr").first).to_be_visible()
    expect(page.get_by_role("link", name="library/alpine")).to_be_visible()
    screenshot(page, "repositories")


def test_search_runs_on_the_server_and_lands_in_the_url(page: Page) -> None:
    page.goto("/ui/")
    page.get_by_label("Filter repositories").fill("service-0")
    expect(page.locator("#range")).to_have_text(shown(1, 10, "10"))
    expect(page).to_have_url(re.compile(r"q=service-0"))
    expect(page.locator("#repositories tbody tr")).to_have_count(10)


def test_ten_thousand_tags_page_by_page(page: Page) -> None:
    page.goto(f"/ui/#/r/{BULK_REPOSITORY}")
    total = f"{BULK_TAGS + 1:,}"
    expect(page.locator("#range")).to_have_text(shown(1, 50, total))
    expect(page.locator("#tags tbody tr").first).to_contain_text("build-00000")
    screenshot(page, "tags")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#range")).to_have_text(shown(51, 100, total))
    expect(page.locator("#tags tbody tr").first).to_contain_text("build-00050")
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#range")).to_have_text(shown(1, 50, total))
    page.get_by_label("Sort by").select_option("-name")
    expect(page.locator("#tags tbody tr").first).to_contain_text("seed")


def test_open_an_index_and_one_of_its_platforms(page: Page, populated: Populated) -> None:
    page.goto("/ui/")
    page.get_by_role("link", name="team/multi").click()
    page.get_by_role("link", name="latest", exact=True).click()
    platforms = page.locator("#platforms")
    expect(platforms).to_contain_text("linux/amd64")
    expect(page.locator("h1")).to_contain_text("index")
    screenshot(page, "index")
    page.set_viewport_size({"width": 1000, "height": 600})
    page.screenshot(path=str(ARTIFACTS / "readme.png"))  # the README's picture: docs/ui.png
    platforms.get_by_role("link", name="linux/arm64/v8").click()
    arm64 = populated.content.children["arm64"]
    expect(page.locator("#digest")).to_have_text(arm64.digest)
    expect(page.locator("#config")).to_contain_text("linux/arm64")
    expect(page.locator("#layers")).to_contain_text("rootfs.tar.gz")
    expect(page.locator("#history")).to_contain_text("ADD rootfs-team/multi:None:arm64.tar /")
    screenshot(page, "image")


def test_referrers_grouped_by_type_down_to_referrers_of_referrers(page: Page, populated: Populated) -> None:
    page.goto("/ui/#/r/team/signed/-/m/v1")
    referrers = page.locator("#referrers")
    expect(referrers.locator(":scope > ul > li.referrer-group")).to_have_count(2)
    expect(referrers).to_contain_text(SIGNATURE)
    sbom = populated.content.sbom
    assert sbom is not None
    sbom_group = referrers.locator("li.referrer-group", has_text=SBOM)
    expect(sbom_group.locator("li.referrer-group", has_text=SIGNATURE)).to_have_count(1)
    screenshot(page, "referrers")
    sbom_group.get_by_role("link").first.click()
    expect(page.locator("#digest")).to_have_text(sbom.digest)
    expect(page.locator("h1")).to_contain_text("artifact")
    expect(page.locator(".pull")).to_contain_text("oras pull")


def test_copy_a_pull_command(page: Page, populated: Populated) -> None:
    page.goto("/ui/#/r/library/alpine/-/m/3.20")
    host = populated.url.removeprefix("http://")
    page.get_by_role("button", name=f"Copy: docker pull {host}/library/alpine:3.20").click()
    expect(page.locator("#toast")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {host}/library/alpine:3.20"


def test_keyboard_only(page: Page) -> None:
    page.goto("/ui/")
    expect(page.locator("#repositories")).to_be_visible()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("busybox")
    expect(page.locator("#range")).to_have_text(shown(1, 1, "1"))
    expect(page.locator("#search")).to_be_focused()
    link = page.get_by_role("link", name="library/busybox")
    for _ in range(5):
        page.keyboard.press("Tab")
        if link.evaluate("node => node === document.activeElement"):
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("library/busybox")


def test_dark_colour_scheme(page: Page) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto("/ui/#/r/team/multi/-/m/latest")
    expect(page.locator("#platforms")).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 22, 28)"
    screenshot(page, "index-dark")
