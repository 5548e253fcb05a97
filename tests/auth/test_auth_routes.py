"""Every route of the API against every kind of caller, in Basic mode and in token mode.

Allowed calls use references that exist where reading, and unknown ones where writing or deleting
(so the handler answers 404 or 400 after the guard let the request through): the suite never
changes what other tests see.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from tests.auth.conftest import Seeded, seed
from tests.auth.support import (
    AuthServer,
    basic,
    bearer,
    challenge,
    fetch_token,
    forged,
    other_key,
    repository_access,
    server_key,
    unsigned,
)
from tests.http.ocitest import error_codes, unused_digest

REPO = "team/routes"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    action: str
    """pull | push | delete | login (any authenticated caller) | catalog"""

    def url(self, seeded: Seeded, upload: str) -> str:
        return self.path.format(
            repo=seeded.repository,
            digest=seeded.image.digest,
            unknown=unused_digest(),
            upload=upload,
        )

    @property
    def scope_actions(self) -> str:
        return {"pull": "pull", "push": "pull,push", "delete": "delete"}.get(self.action, "")


ROUTES = [
    Route("GET", "/v2/", "login"),
    Route("GET", "/v2/_catalog", "catalog"),
    Route("GET", "/v2/{repo}/tags/list", "pull"),
    Route("GET", "/v2/{repo}/manifests/v1", "pull"),
    Route("HEAD", "/v2/{repo}/manifests/v1", "pull"),
    Route("PUT", "/v2/{repo}/manifests/new-tag", "push"),
    Route("DELETE", "/v2/{repo}/manifests/{unknown}", "delete"),
    Route("GET", "/v2/{repo}/blobs/{digest}", "pull"),
    Route("HEAD", "/v2/{repo}/blobs/{digest}", "pull"),
    Route("DELETE", "/v2/{repo}/blobs/{unknown}", "delete"),
    Route("POST", "/v2/{repo}/blobs/uploads/", "push"),
    Route("GET", "/v2/{repo}/blobs/uploads/{upload}", "push"),
    Route("PATCH", "/v2/{repo}/blobs/uploads/{upload}", "push"),
    Route("PUT", "/v2/{repo}/blobs/uploads/{upload}?digest={unknown}", "push"),
    Route("DELETE", "/v2/{repo}/blobs/uploads/{upload}", "push"),
    Route("GET", "/v2/{repo}/referrers/{digest}", "pull"),
]
REPOSITORY_ROUTES = [route for route in ROUTES if route.action in ("pull", "push", "delete")]
# With anonymous pulls configured, the catalog answers anonymous callers too (tests/auth/test_auth_catalog.py).
NOT_CATALOG = [route for route in ROUTES if route.action != "catalog"]
ROUTE_IDS = [f"{route.method} {route.path}" for route in ROUTES]
# A user who may not do the route's action on REPO (team/**): nobody may do nothing, reader only pull.
WITHOUT_PERMISSION = {"login": None, "catalog": None, "pull": "nobody", "push": "reader", "delete": "writer"}
# A user with permission; admin may do everything.
WITH_PERMISSION = {"login": "nobody", "catalog": "reader", "pull": "reader", "push": "writer", "delete": "admin"}
UPLOAD_ID = "00000000-0000-4000-8000-000000000000"  # never opened: the handler answers 404 when let through


@pytest.fixture(scope="module")
def seeded_basic(basic_server: AuthServer) -> Seeded:
    return seed(basic_server, REPO)


@pytest.fixture(scope="module")
def seeded_token(token_server: AuthServer) -> Seeded:
    return seed(token_server, REPO)


def call(server: AuthServer, seeded: Seeded, route: Route, headers: dict[str, str]) -> httpx.Response:
    body = b"{}" if route.method in ("PUT", "PATCH") else None
    return httpx.request(
        route.method, server.url + route.url(seeded, UPLOAD_ID), headers=headers, content=body, timeout=30
    )


def assert_unauthorized(response: httpx.Response, scheme: str, error: str | None = None) -> None:
    assert response.status_code == 401, response.text
    if response.request.method != "HEAD":
        assert error_codes(response) == ["UNAUTHORIZED"]
    assert challenge(response).startswith(scheme), challenge(response)
    if error is not None:
        assert f'error="{error}"' in challenge(response)


def assert_let_through(response: httpx.Response) -> None:
    assert response.status_code not in (401, 403, 429), response.text
    assert response.status_code < 500, response.text


# -- Basic mode -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", NOT_CATALOG, ids=lambda route: f"{route.method} {route.path}")
def test_basic_anonymous_gets_the_basic_challenge(basic_server: AuthServer, seeded_basic: Seeded, route: Route) -> None:
    response = call(basic_server, seeded_basic, route, {})
    assert_unauthorized(response, 'Basic realm="dockyard"')


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_basic_wrong_password_is_unauthorized(basic_server: AuthServer, seeded_basic: Seeded, route: Route) -> None:
    response = call(basic_server, seeded_basic, route, basic("writer", "not-the-password"))
    assert_unauthorized(response, "Basic")
    assert "not-the-password" not in response.text


@pytest.mark.parametrize("route", REPOSITORY_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_basic_user_without_permission_is_denied(basic_server: AuthServer, seeded_basic: Seeded, route: Route) -> None:
    user = WITHOUT_PERMISSION[route.action]
    assert user is not None
    response = call(basic_server, seeded_basic, route, basic(user))
    assert response.status_code == 403, response.text
    if route.method != "HEAD":
        assert error_codes(response) == ["DENIED"]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_basic_user_with_permission_is_let_through(
    basic_server: AuthServer, seeded_basic: Seeded, route: Route
) -> None:
    response = call(basic_server, seeded_basic, route, basic(WITH_PERMISSION[route.action]))
    assert_let_through(response)


MALFORMED = [
    "Basic",
    "Basic !!!not-base64!!!",
    "Basic " + "bm8tY29sb24=",  # "no-colon"
    "Basic Og==",  # ":" (empty user)
    "Digest username=admin",
    "Bearer",
    "Bearer not.a.jwt",
    "Bearer " + "x" * 5000,
    "",
]


@pytest.mark.parametrize("header", MALFORMED, ids=range(len(MALFORMED)))
@pytest.mark.parametrize("route", [ROUTES[0], ROUTES[3], ROUTES[10]], ids=lambda route: route.method)
def test_malformed_authorization_is_unauthorized(
    auth_server: AuthServer, route: Route, header: str, request: pytest.FixtureRequest
) -> None:
    seeded = request.getfixturevalue("seeded_token" if auth_server.token_mode else "seeded_basic")
    response = call(auth_server, seeded, route, {"Authorization": header})
    assert_unauthorized(response, "Bearer" if auth_server.token_mode else "Basic")


# -- token mode -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", NOT_CATALOG, ids=lambda route: f"{route.method} {route.path}")
def test_token_anonymous_gets_the_bearer_challenge_with_the_needed_scope(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    response = call(token_server, seeded_token, route, {})
    assert_unauthorized(response, f'Bearer realm="{token_server.url}/auth/token",service="dockyard"')
    if route.scope_actions:
        assert f'scope="repository:{REPO}:{route.scope_actions}"' in challenge(response)
    else:
        assert "scope=" not in challenge(response)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_token_wrong_password_gets_no_token_and_basic_is_refused(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    response = httpx.get(f"{token_server.url}/auth/token", params={"service": "dockyard"}, headers=basic("admin", "x"))
    assert response.status_code == 401
    assert_unauthorized(call(token_server, seeded_token, route, basic("admin")), "Bearer")


def _granted_token(server: AuthServer, user: str, route: Route) -> str:
    if route.action == "catalog":
        return fetch_token(server.url, user, "registry:catalog:*")
    scopes = [f"repository:{REPO}:{route.action}"] if route.scope_actions else []
    return fetch_token(server.url, user, *scopes)


@pytest.mark.parametrize("route", REPOSITORY_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_token_user_without_permission_gets_insufficient_scope(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    user = WITHOUT_PERMISSION[route.action]
    assert user is not None
    token = _granted_token(token_server, user, route)
    response = call(token_server, seeded_token, route, bearer(token))
    assert_unauthorized(response, "Bearer", "insufficient_scope")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_token_user_with_permission_is_let_through(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    token = _granted_token(token_server, WITH_PERMISSION[route.action], route)
    assert_let_through(call(token_server, seeded_token, route, bearer(token)))


def _all_access(repository: str) -> list[dict[str, object]]:
    return repository_access(repository, "pull", "push", "delete")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_token_expired_is_invalid(token_server: AuthServer, seeded_token: Seeded, route: Route) -> None:
    token = forged(server_key(token_server.directory), _all_access(REPO), lifetime=-60)
    assert_unauthorized(call(token_server, seeded_token, route, bearer(token)), "Bearer", "invalid_token")


@pytest.mark.parametrize("route", REPOSITORY_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_token_for_another_repository_is_insufficient(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    token = forged(server_key(token_server.directory), _all_access("team/other"))
    assert_unauthorized(call(token_server, seeded_token, route, bearer(token)), "Bearer", "insufficient_scope")


OTHER_ACTION = {"pull": ("push", "delete"), "push": ("pull", "delete"), "delete": ("pull", "push")}


@pytest.mark.parametrize("route", REPOSITORY_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_token_for_another_action_is_insufficient(token_server: AuthServer, seeded_token: Seeded, route: Route) -> None:
    token = forged(server_key(token_server.directory), repository_access(REPO, *OTHER_ACTION[route.action]))
    assert_unauthorized(call(token_server, seeded_token, route, bearer(token)), "Bearer", "insufficient_scope")


def test_token_without_catalog_scope_may_not_list(token_server: AuthServer, seeded_token: Seeded) -> None:
    token = forged(server_key(token_server.directory), _all_access(REPO))
    assert_unauthorized(call(token_server, seeded_token, ROUTES[1], bearer(token)), "Bearer", "insufficient_scope")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_token_signed_by_an_unknown_key_is_invalid(
    token_server: AuthServer, seeded_token: Seeded, route: Route
) -> None:
    access = [*_all_access(REPO), {"type": "registry", "name": "catalog", "actions": ["*"]}]
    token = forged(other_key(), access)
    assert_unauthorized(call(token_server, seeded_token, route, bearer(token)), "Bearer", "invalid_token")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_token_with_alg_none_is_invalid(token_server: AuthServer, seeded_token: Seeded, route: Route) -> None:
    token = unsigned([*_all_access(REPO), {"type": "registry", "name": "catalog", "actions": ["*"]}])
    assert_unauthorized(call(token_server, seeded_token, route, bearer(token)), "Bearer", "invalid_token")


def test_token_for_another_audience_or_issuer_is_invalid(token_server: AuthServer, seeded_token: Seeded) -> None:
    key = server_key(token_server.directory)
    for token in (
        forged(key, _all_access(REPO), audience="elsewhere"),
        forged(key, _all_access(REPO), issuer="someone-else"),
    ):
        response = call(token_server, seeded_token, ROUTES[3], bearer(token))
        assert_unauthorized(response, "Bearer", "invalid_token")


def test_usage_is_for_administrators(basic_server: AuthServer, seeded_basic: Seeded) -> None:
    url = f"{basic_server.url}/v2/_dockyard/usage"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=basic("writer")).status_code == 403
    assert httpx.get(url, headers=basic("admin")).status_code == 200
