"""The UI's API for access tokens: a logged-in user lists, creates (the secret shown once) and revokes
their own; administrators manage robot tokens; a token cannot manage tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.auth.support import basic
from tests.tokens.support import TokenServers, basic_secret

API = "/v2/_dockyard"


class Browser:
    """Keeps the session cookie and sends the CSRF header, as the UI's script does."""

    def __init__(self, url: str, user: str):
        self.http = httpx.Client(base_url=url)
        self.http.headers["x-dockyard-csrf"] = self.http.get(f"{API}/session").json()["csrf"]
        assert self.http.post(f"{API}/session", headers=basic(user)).status_code == 200

    def create(self, **document: Any) -> httpx.Response:
        body = {"repositories": ["team/**"], "actions": ["pull"], "expires": "90d", **document}
        return self.http.post(f"{API}/tokens", json=body)

    def names(self) -> list[str]:
        return [token["name"] for token in self.http.get(f"{API}/tokens").json()["tokens"]]


@pytest.fixture
def reader(basic_tokens: TokenServers) -> Iterator[Browser]:
    browser = Browser(basic_tokens.url, "reader")
    yield browser
    browser.http.close()


@pytest.fixture
def admin(basic_tokens: TokenServers) -> Iterator[Browser]:
    browser = Browser(basic_tokens.url, "admin")
    yield browser
    browser.http.close()


def test_a_user_creates_uses_and_revokes_a_token(basic_tokens: TokenServers, reader: Browser) -> None:
    created = reader.create(name="laptop")
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    token = created.json()["token"]
    assert token["user"] == "reader"
    assert token["expires"] is not None
    assert token["createdBy"] == "reader"
    listing = reader.http.get(f"{API}/tokens")
    assert "laptop" in reader.names()
    assert secret[4:] not in listing.text, "listed without its secret"
    assert listing.json()["robots"] is False
    pulled = httpx.get(f"{basic_tokens.url}/v2/team/any/tags/list", headers=basic_secret(secret))
    assert pulled.status_code in (200, 404), "authorized (the repository may not exist)"
    assert httpx.get(f"{basic_tokens.url}/v2/_dockyard/tokens", headers=basic_secret(secret)).status_code == 403
    assert reader.create(name="laptop").status_code == 409
    assert reader.http.delete(f"{API}/tokens/{token['id']}").status_code == 204
    assert httpx.get(f"{basic_tokens.url}/v2/", headers=basic_secret(secret)).status_code == 401
    assert "laptop" not in reader.names()


def test_robots_are_for_administrators(reader: Browser, admin: Browser) -> None:
    assert reader.create(name="not-mine", robot=True).status_code == 403
    robot = admin.create(name="ui-robot", robot=True, actions=["pull", "push"])
    assert robot.status_code == 201, robot.text
    assert robot.json()["token"]["robot"] is True
    assert admin.http.get(f"{API}/tokens").json()["robots"] is True
    assert "ui-robot" in admin.names()
    assert "ui-robot" not in reader.names()
    robot_id = robot.json()["token"]["id"]
    assert reader.http.delete(f"{API}/tokens/{robot_id}").status_code == 404, "not the reader's to revoke"
    assert admin.http.delete(f"{API}/tokens/{robot_id}").status_code == 204


def test_creations_and_revocations_are_audited(basic_tokens: TokenServers, reader: Browser, admin: Browser) -> None:
    created = reader.create(name="audited")
    token_id = created.json()["token"]["id"]
    assert reader.http.delete(f"{API}/tokens/{token_id}").status_code == 204
    cli = basic_tokens.create("audited-cli", "--robot")
    cli_id = basic_tokens.listed()["audited-cli"]["id"]
    basic_tokens.dockyard("token", "revoke", cli_id)
    entries = admin.http.get(f"{API}/audit").json()["entries"]
    mine = [(e["action"], e["actor"], e["detail"]) for e in entries if token_id in e["detail"]]
    assert sorted(mine) == [
        ("token-create", "reader", f"token {token_id} (audited) for reader"),
        ("token-revoke", "reader", f"token {token_id}"),
    ]
    by_command = sorted(e["action"] for e in entries if cli_id in e["detail"])
    assert by_command == ["token-create", "token-revoke"]
    assert cli[4:] not in str(entries)
    assert created.json()["secret"][4:] not in str(entries)


def test_bad_requests(basic_tokens: TokenServers, reader: Browser) -> None:
    assert reader.http.post(f"{API}/tokens", content=b"{not json").status_code == 400
    assert reader.create(name="x", actions=["fly"]).status_code == 400
    assert reader.create(name="x", repositories="team/**").status_code == 400
    assert reader.create(name="x", expires="forever").status_code == 400
    no_csrf = httpx.post(f"{basic_tokens.url}{API}/tokens", json={}, cookies=reader.http.cookies)
    assert no_csrf.status_code == 403
    assert httpx.get(f"{basic_tokens.url}{API}/tokens").status_code == 401
