"""From single sign-on to the command line: a user who logs in to the UI through the OpenID Provider
creates an access token there, and skopeo pushes with it, within the groups the provider vouched for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page
from tests.auth.support import PASSWORDS, write_users
from tests.http.ocitest import RegistryClient
from tests.identity.conftest import RULES
from tests.identity.openid import OpenIdProvider
from tests.identity.test_oidc import SingleSignOn, browser, log_in  # noqa: F401 - the module's Chromium
from tests.interop.auth import refused
from tests.interop.clients import ContainersConfig, Skopeo
from tests.interop.harness import small_layout
from tests.support.server import DockyardServer

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def sso_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleSignOn]:
    """dockyard with the provider's users and access tokens on; admin pushes to team/ and other/."""
    home = tmp_path_factory.mktemp("oidc-tokens")
    config = home / "config.yaml"
    server = DockyardServer(home / "data", ["--config", str(config)], env={"DOCKYARD_ACCESS_LOG": "false"})
    provider = OpenIdProvider(home, server.url).start()
    try:
        auth = {"htpasswd": str(write_users(home / "htpasswd", ["admin"])), "oidc": provider.settings()}
        config.write_text(yaml.safe_dump({"auth": {**auth, "rules": RULES, "access_tokens": True}}))
        server.start()
        try:
            with RegistryClient(server.url) as admin:
                admin.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
                admin.push_image("other/x", "v1")
            yield SingleSignOn(server, provider)
        finally:
            server.stop()
    finally:
        provider.stop()


@pytest.fixture
def sso_page(browser: Browser, sso_tokens: SingleSignOn) -> Iterator[Page]:  # noqa: F811 - the imported fixture
    context = browser.new_context(base_url=sso_tokens.url)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_an_oidc_user_creates_a_token_in_the_ui_and_skopeo_uses_it(
    sso_page: Page, sso_tokens: SingleSignOn, tmp_path: Path
) -> None:
    log_in(sso_page, "alice")  # group developers: pull and push under team/
    sso_page.locator("#tokens-link").click()
    form = sso_page.locator("#token-form")
    form.get_by_label("Name").fill("laptop")
    form.get_by_label("Repositories").fill("team/** other/**")
    form.get_by_label("push").check()
    form.get_by_role("button", name="Create token").click()
    secret = sso_page.locator("#secret").inner_text()
    assert secret.startswith("dyd_")

    host = sso_tokens.url.removeprefix("http://")
    skopeo = Skopeo(ContainersConfig(tmp_path / "c", host))
    layout, digest = small_layout(tmp_path / "layout", "alice, through a token made after single sign-on")
    target = f"docker://{host}/team/sso:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{secret}", f"oci:{layout.path}:v1", target)
    found = skopeo("inspect", "--tls-verify=false", "--creds", f"alice:{secret}", "--format", "{{.Digest}}", target)
    assert found.stdout.strip() == digest
    # The token names other/**, but alice's groups grant nothing there: the owner's rights win.
    other = f"docker://{host}/other/x:v1"
    refused(skopeo("inspect", "--raw", "--tls-verify=false", "--creds", f"alice:{secret}", other, check=False))
