"""The web UI's login through a real OpenID Provider (oidc-provider), in Chromium: the authorization
code flow with PKCE through the provider's login page, the groups claim in the policy, logout, forged
callbacks, and ID tokens from the provider tampered with in every way that matters."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Browser, Page, expect
from tests.auth.support import PASSWORDS, write_users
from tests.http.ocitest import RegistryClient
from tests.identity.conftest import RULES
from tests.identity.openid import CLIENT_ID, CLIENT_SECRET, OpenIdProvider
from tests.support.backends import metadata_rows
from tests.support.chromium import chromium
from tests.support.server import DockyardServer

from dockyard.auth.oidc import OidcClient, OidcError
from dockyard.auth.sources import Identity
from dockyard.config.identity import Oidc

T = TypeVar("T")
API = "/v2/_dockyard"


@dataclass
class SingleSignOn:
    server: DockyardServer
    provider: OpenIdProvider

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleSignOn]:
    """dockyard with htpasswd users (admin) and the provider's users, and repositories for both groups."""
    home = tmp_path_factory.mktemp("oidc")
    config = home / "config.yaml"
    server = DockyardServer(home / "data", ["--config", str(config)], env={"DOCKYARD_ACCESS_LOG": "false"})
    provider = OpenIdProvider(home, server.url).start()
    try:
        auth = {"htpasswd": str(write_users(home / "htpasswd", ["admin"])), "oidc": provider.settings(), "rules": RULES}
        config.write_text(yaml.safe_dump({"auth": auth}))
        server.start()
        try:
            with RegistryClient(server.url) as admin:
                admin.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
                admin.push_image("team/app", "v1")
                admin.push_image("other/x", "v1")
            yield SingleSignOn(server, provider)
        finally:
            server.stop()
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, sso: SingleSignOn) -> Iterator[Page]:
    """A fresh browser (no session at dockyard or at the provider)."""
    context = browser.new_context(base_url=sso.url)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def sign_in_at_provider(page: Page, user: str) -> None:
    """The provider's own pages: its login form, then its consent."""
    page.locator("input[name=login]").fill(user)
    page.locator("input[name=password]").fill("any password: the test provider checks none")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def log_in(page: Page, user: str) -> None:
    page.goto("/ui/")
    page.get_by_role("link", name="Log in with single sign-on").click()
    sign_in_at_provider(page, user)
    expect(page.locator("#user")).to_have_text(f"Signed in as {user}")


def rights(page: Page, repository: str) -> dict[str, bool]:
    """What the UI's API says the logged-in user may do in the repository."""
    answer: dict[str, Any] = page.evaluate(
        "async (path) => (await fetch(path)).json()", f"{API}/repositories/{repository}/-/rights"
    )
    return {action: answer[action] for action in ("pull", "push", "delete")}


def test_a_provider_login_brings_the_users_groups_into_the_policy(page: Page, sso: SingleSignOn) -> None:
    log_in(page, "alice")  # group developers: pull and push under team/
    # Remembered for what acts for alice later (an access token), with the groups of this login.
    rows = metadata_rows(sso.server.data_dir, {}, "SELECT groups FROM provider_users WHERE name = 'alice'")
    assert rows == [('["developers"]',)]
    assert rights(page, "team/app") == {"pull": True, "push": True, "delete": False}
    assert not rights(page, "other/x")["pull"]
    expect(page.get_by_role("link", name="team/app")).to_be_visible()
    expect(page.get_by_role("link", name="other/x")).to_have_count(0)
    session = next(cookie for cookie in page.context.cookies() if cookie["name"] == "dockyard_session")
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"


def test_another_users_groups_grant_only_theirs(page: Page) -> None:
    log_in(page, "bob")  # group readers: pull under team/
    assert rights(page, "team/app") == {"pull": True, "push": False, "delete": False}


def test_logout_ends_the_session_here_and_goes_to_the_providers_logout(page: Page, sso: SingleSignOn) -> None:
    log_in(page, "alice")
    cookie = next(cookie for cookie in page.context.cookies() if cookie["name"] == "dockyard_session")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{sso.provider.issuer}/session/end**")
    copied = httpx.get(f"{sso.url}{API}/session", cookies={"dockyard_session": cookie["value"]})
    assert copied.json()["user"] is None, "a copy of the logged-out session cookie still works"


def test_a_callback_not_started_here_or_with_another_state_is_refused(sso: SingleSignOn) -> None:
    forged = httpx.get(f"{sso.url}/ui/oidc/callback", params={"code": "x", "state": "y"})
    assert forged.status_code == 401
    assert forged.json()["errors"][0]["code"] == "UNAUTHORIZED"
    with httpx.Client(base_url=sso.url) as browser:
        started = browser.get("/ui/oidc/login")
        assert started.status_code == 302
        assert started.headers["location"].startswith(f"{sso.provider.issuer}/auth?")
        query = parse_qs(urlsplit(started.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert {"state", "nonce", "code_challenge"} <= set(query)
        other_state = browser.get("/ui/oidc/callback", params={"code": "x", "state": "not-the-state"})
        assert other_state.status_code == 401
        assert "state" in other_state.json()["errors"][0]["message"]


def test_a_provider_that_is_down_fails_the_login_with_503(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    unreachable = {"issuer": "http://127.0.0.1:9", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    auth = {"htpasswd": str(write_users(tmp_path / "htpasswd", ["admin"])), "oidc": unreachable, "anonymous": ["**"]}
    config.write_text(yaml.safe_dump({"auth": auth}))
    server = DockyardServer(tmp_path / "data", ["--config", str(config)]).start()
    try:
        login = httpx.get(f"{server.url}/ui/oidc/login")
        assert login.status_code == 503
        assert login.json()["errors"][0] == {
            "code": "UNAVAILABLE",
            "message": "the identity provider is unavailable; try again later",
        }
        assert "OIDC provider http://127.0.0.1:9 unavailable" in server.log()
        assert CLIENT_SECRET not in server.log()
        # Anonymous pulls and password logins need no provider.
        assert httpx.get(f"{server.url}/v2/x/tags/list").status_code == 404
        assert httpx.get(f"{server.url}/v2/", auth=("admin", PASSWORDS["admin"])).status_code == 200
    finally:
        server.stop()


# ---- ID tokens from the provider, verified through auth/oidc.py ---------------------------------


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async code beside Playwright's synchronous API, which holds this thread's event loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@dataclass
class IssuedToken:
    id_token: str
    nonce: str
    settings: Oidc


@pytest.fixture(scope="module")
def issued(browser: Browser, sso: SingleSignOn) -> IssuedToken:
    """A real ID token the provider issued to dockyard's client for alice, and its nonce."""
    settings = Oidc(issuer=sso.provider.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    redirect_uri = f"{sso.url}/ui/oidc/callback"
    start = run(OidcClient(settings).start(redirect_uri))
    # The browser lands on dockyard's callback without dockyard's login cookie: refused there
    # before the code is used, which the test then exchanges itself.
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(start.url)
        sign_in_at_provider(tab, "alice")
        tab.wait_for_url(f"{redirect_uri}**")
        callback = tab.url
    finally:
        context.close()
    code = parse_qs(urlsplit(callback).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    answer = httpx.post(
        f"{sso.provider.issuer}/token",
        data=form | {"code_verifier": start.verifier},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 200, answer.text
    return IssuedToken(answer.json()["id_token"], start.nonce, settings)


def verify(issued: IssuedToken, id_token: str, nonce: str | None = None) -> Identity:
    return run(OidcClient(issued.settings).verify(id_token, nonce or issued.nonce))


def _b64(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _claims(issued: IssuedToken) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(issued.id_token, options={"verify_signature": False})
    return claims


def test_a_genuine_id_token_names_the_user_and_the_groups(issued: IssuedToken) -> None:
    assert verify(issued, issued.id_token) == Identity("alice", frozenset({"developers"}))


def test_an_id_token_of_another_login_is_refused(issued: IssuedToken) -> None:
    with pytest.raises(OidcError, match="nonce"):
        verify(issued, issued.id_token, nonce="the nonce of another login")


def test_a_tampered_payload_is_refused(issued: IssuedToken) -> None:
    header, _, signature = issued.id_token.split(".")
    promoted = _b64(_claims(issued) | {"preferred_username": "admin", "groups": ["admins"]})
    with pytest.raises(OidcError, match="not valid"):
        verify(issued, f"{header}.{promoted}.{signature}")


def test_an_unsigned_token_is_refused(issued: IssuedToken) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(issued))}."
    with pytest.raises(OidcError, match="algorithm"):
        verify(issued, unsigned)


def test_a_token_signed_with_the_client_secret_is_refused(issued: IssuedToken) -> None:
    forged = jwt.encode(_claims(issued), CLIENT_SECRET, algorithm="HS256", headers={"kid": "test-key-1"})
    with pytest.raises(OidcError, match="algorithm"):
        verify(issued, forged)


def test_a_token_signed_with_another_key_is_refused(issued: IssuedToken) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(issued), other, algorithm="RS256", headers={"kid": "test-key-1"})
    with pytest.raises(OidcError, match="not valid"):
        verify(issued, forged)
    unknown_kid = jwt.encode(_claims(issued), other, algorithm="RS256", headers={"kid": "someone-elses"})
    with pytest.raises(OidcError, match="does not publish"):
        verify(issued, unknown_kid)
