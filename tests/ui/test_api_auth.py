"""The UI's JSON API with authentication on: sessions, CSRF, and rights per user."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.http.ocitest import RegistryClient, assert_error
from tests.support.server import DockyardServer
from tests.ui.conftest import PASSWORDS, AuthPopulated, auth_config
from tests.ui.populate import push_image

API = "/v2/_dockyard"


@pytest.fixture
def browser_like(auth_populated: AuthPopulated) -> Iterator[httpx.Client]:
    """A client that keeps cookies and sends the CSRF header, as the UI's script does."""
    with httpx.Client(base_url=auth_populated.url) as client:
        token = client.get(f"{API}/session").json()["csrf"]
        client.headers["x-dockyard-csrf"] = token
        yield client


def basic(user: str, password: str | None = None) -> dict[str, str]:
    pair = f"{user}:{password or PASSWORDS[user]}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


def log_in(client: httpx.Client, user: str) -> httpx.Response:
    response = client.post(f"{API}/session", headers=basic(user))
    assert response.status_code == 200, response.text
    return response


def names(client: httpx.Client) -> list[str]:
    return [repo["name"] for repo in client.get(f"{API}/repositories").json()["repositories"]]


def test_anonymous_callers_see_only_anonymous_repositories(browser_like: httpx.Client) -> None:
    assert names(browser_like) == ["public/hello"]
    assert browser_like.get(f"{API}/repositories/public/hello/-/tags").status_code == 200
    refused = browser_like.get(f"{API}/repositories/team/app/-/tags")
    assert_error(refused, 401, "UNAUTHORIZED")
    assert "www-authenticate" not in refused.headers  # a browser would pop up its own dialog
    assert_error(browser_like.get(f"{API}/repositories/team/app/-/manifests/1.0"), 401, "UNAUTHORIZED")
    rights = browser_like.get(f"{API}/repositories/public/hello/-/rights").json()
    assert rights == {"repository": "public/hello", "pull": True, "push": False, "delete": False, "cacheOf": None}
    session = browser_like.get(f"{API}/session").json()
    assert session["user"] is None
    assert session["authEnabled"] is True


def test_login_sets_a_strict_http_only_cookie(browser_like: httpx.Client) -> None:
    response = log_in(browser_like, "reader")
    assert response.json() == {"user": "reader"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dockyard_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert browser_like.get(f"{API}/session").json()["user"] == "reader"
    assert names(browser_like) == ["public/hello", "team/app"]
    rights = browser_like.get(f"{API}/repositories/team/app/-/rights").json()
    assert rights == {"repository": "team/app", "pull": True, "push": False, "delete": False, "cacheOf": None}


def test_login_needs_the_csrf_token_and_right_credentials(auth_populated: AuthPopulated) -> None:
    with httpx.Client(base_url=auth_populated.url) as client:
        assert_error(client.post(f"{API}/session", headers=basic("admin")), 403, "DENIED")
        token = client.get(f"{API}/session").json()["csrf"]
        client.headers["x-dockyard-csrf"] = token
        wrong = client.post(f"{API}/session", headers=basic("admin", "wrong"))
        assert_error(wrong, 401, "UNAUTHORIZED")
        assert "www-authenticate" not in wrong.headers
        assert_error(client.post(f"{API}/session"), 401, "UNAUTHORIZED")


def test_a_forged_or_altered_session_is_anonymous(browser_like: httpx.Client) -> None:
    log_in(browser_like, "admin")
    value = browser_like.cookies["dockyard_session"]
    payload, _, signature = value.partition(".")
    browser_like.cookies.set("dockyard_session", payload + "." + signature[::-1])
    assert browser_like.get(f"{API}/session").json()["user"] is None
    browser_like.cookies.set("dockyard_session", "garbage")
    assert browser_like.get(f"{API}/session").json()["user"] is None


def test_logout_clears_the_cookie(browser_like: httpx.Client) -> None:
    log_in(browser_like, "reader")
    response = browser_like.delete(f"{API}/session")
    assert response.status_code == 204
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert browser_like.get(f"{API}/session").json()["user"] is None


def test_delete_needs_the_delete_action(browser_like: httpx.Client, auth_populated: AuthPopulated) -> None:
    with RegistryClient(auth_populated.url) as pusher:
        pusher.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
        push_image(pusher, "team/app", "reader-try")
    log_in(browser_like, "reader")
    assert_error(browser_like.delete(f"{API}/repositories/team/app/-/tags/reader-try"), 403, "DENIED")
    log_in(browser_like, "admin")
    assert browser_like.delete(f"{API}/repositories/team/app/-/tags/reader-try").status_code == 204


def test_api_clients_may_send_basic_credentials(auth_populated: AuthPopulated) -> None:
    response = httpx.get(f"{auth_populated.url}{API}/repositories/team/app/-/tags", headers=basic("reader"))
    assert response.status_code == 200
    assert {tag["name"] for tag in response.json()["tags"]} >= {"1.0", "2.0"}
    assert_error(
        httpx.get(f"{auth_populated.url}{API}/repositories", headers=basic("reader", "bad")), 401, "UNAUTHORIZED"
    )


def test_static_files_need_no_login(auth_populated: AuthPopulated) -> None:
    assert httpx.get(f"{auth_populated.url}/ui/").status_code == 200
    assert httpx.get(f"{auth_populated.url}/").status_code == 302


def test_token_mode_api_clients_may_send_a_bearer_token(tmp_path: Path) -> None:
    config = auth_config(tmp_path, token=True)
    server = DockyardServer(tmp_path / "data", ["--config", str(config)]).start()
    try:
        admin = RegistryClient(server.url)
        admin.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
        response = admin.get("/auth/token", params={"service": "dockyard", "scope": "repository:team/x:pull,push"})
        token = response.json()["token"]
        admin.http.auth = None
        admin.http.headers["authorization"] = f"Bearer {token}"
        push_image(admin, "team/x", "1.0")
        listed = admin.get(f"{API}/repositories/team/x/-/tags")
        assert listed.status_code == 200
        assert [tag["name"] for tag in listed.json()["tags"]] == ["1.0"]
        assert_error(admin.get(f"{API}/repositories/team/other/-/tags"), 403, "DENIED")
        admin.http.headers["authorization"] = "Bearer not-a-token"
        assert_error(admin.get(f"{API}/repositories/team/x/-/tags"), 401, "UNAUTHORIZED")
        admin.close()
    finally:
        server.stop()
