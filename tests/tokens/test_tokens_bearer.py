"""Access tokens at the token endpoint (docker login in token mode): the JWT it issues carries no more
than the token allows and its owner may, is marked narrowed so that nothing widens it later (tag moves,
a mount's source), and comes without a refresh token (which would outlive the token's revocation)."""

from __future__ import annotations

import httpx
from tests.auth.support import TokenFlow, bearer, claims_of
from tests.http.ocitest import RegistryClient
from tests.tokens.support import TokenServers, basic_secret

MANIFEST = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}


def token_for(servers: TokenServers, secret: str, *scopes: str, **params: str) -> httpx.Response:
    query = [("service", "dockyard"), *(("scope", scope) for scope in scopes), *params.items()]
    return httpx.get(f"{servers.url}/auth/token", params=query, headers=basic_secret(secret))


def access_of(jwt: str) -> dict[str, list[str]]:
    return {entry["name"]: entry["actions"] for entry in claims_of(jwt)["access"]}


def test_the_token_endpoint_grants_the_intersection(bearer_tokens: TokenServers) -> None:
    secret = bearer_tokens.create("writer-login", "--user", "writer", actions="pull,push,delete")
    answer = token_for(bearer_tokens, secret, "repository:team/a:pull,push,delete", "repository:other/b:pull",
                       offline_token="true")  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    claims = claims_of(answer.json()["token"])
    assert claims["sub"] == "writer"
    assert claims["narrowed"] is True
    # writer may not delete nor move tags; other/b is outside the token's globs.
    assert access_of(answer.json()["token"]) == {"team/a": ["pull", "push"], "other/b": []}

    form = {"grant_type": "password", "username": "writer", "password": secret, "service": "dockyard",
            "scope": "repository:team/a:pull", "access_type": "offline"}  # fmt: skip
    posted = httpx.post(f"{bearer_tokens.url}/auth/token", data=form)
    assert posted.status_code == 200, posted.text
    assert "refresh_token" not in posted.json()
    assert access_of(posted.json()["token"]) == {"team/a": ["pull"]}


def test_a_robot_pushes_with_a_bearer_token(bearer_tokens: TokenServers) -> None:
    secret = bearer_tokens.create("ci", "--robot", actions="pull,push")
    answer = token_for(bearer_tokens, secret, "repository:team/robot:pull,push")
    assert answer.status_code == 200, answer.text
    jwt = answer.json()["token"]
    assert claims_of(jwt)["sub"] == "robot:ci"
    # A robot's token never moves tags its grants do not name.
    assert access_of(jwt) == {"team/robot": ["pull", "push"]}
    with RegistryClient(bearer_tokens.url) as robot:
        robot.http.headers.update(bearer(jwt))
        first = robot.push_image("team/robot", "v1", seed="first")
        second = robot.push_image("team/robot", None, seed="second")
        moved = robot.http.put("/v2/team/robot/manifests/v1", content=second.body, headers=MANIFEST)
        assert moved.status_code == 403, moved.text
        assert robot.get_manifest("team/robot", "v1").content == first.body


def test_moving_tags_needs_overwrite_in_the_token_too(bearer_tokens: TokenServers) -> None:
    """tagger may move tags under team/; a token of tagger's moves them only when it names overwrite."""
    with RegistryClient(bearer_tokens.url) as admin:
        admin.http.auth = TokenFlow(bearer_tokens.url, "admin")
        admin.push_image("team/tags", "stable", seed="first")
        second = admin.push_image("team/tags", None, seed="second")
    url = f"{bearer_tokens.url}/v2/team/tags/manifests/stable"
    scope = "repository:team/tags:pull,push"
    without = bearer_tokens.create("tagger-push", "--user", "tagger", actions="pull,push")
    narrow = token_for(bearer_tokens, without, scope).json()["token"]
    assert httpx.put(url, content=second.body, headers={**MANIFEST, **bearer(narrow)}).status_code == 403
    with_overwrite = bearer_tokens.create("tagger-move", "--user", "tagger", actions="pull,push,overwrite")
    wide = token_for(bearer_tokens, with_overwrite, scope).json()["token"]
    assert httpx.put(url, content=second.body, headers={**MANIFEST, **bearer(wide)}).status_code == 201
