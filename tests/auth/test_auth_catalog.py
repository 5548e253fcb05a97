"""The catalog lists only repositories the caller may pull from, and pages over exactly those."""

from __future__ import annotations

import httpx
import pytest
from tests.auth.support import AuthServer, basic, bearer, fetch_token
from tests.http.ocitest import RegistryClient


@pytest.fixture(scope="module")
def catalog_repos(basic_server: AuthServer) -> list[str]:
    """Pullable by reader: team/**; anonymous: public/**; neither: private/**. Interleaved in order."""
    names = [f"{prefix}/catalog-{n:02d}" for n in range(6) for prefix in ("private", "public", "team")]
    with basic_server.admin() as admin:
        for name in names:
            admin.push_image(name, "v1")
    return names


def walk(client: RegistryClient, n: int) -> list[str]:
    return client.follow_pages("/v2/_catalog", {"n": n}, "repositories", limit=10000)


def listed(names: list[str], prefix: str) -> list[str]:
    return [name for name in names if name.startswith(prefix) and "/catalog-" in name]


@pytest.mark.parametrize("n", [1, 2, 5, 1000])
def test_catalog_pages_over_the_pullable_repositories_only(
    basic_server: AuthServer, catalog_repos: list[str], n: int
) -> None:
    with RegistryClient(basic_server.url) as reader:
        reader.http.auth = httpx.BasicAuth("reader", "reader-secret-3")
        walked = walk(reader, n)
    assert walked == sorted(walked)
    assert len(walked) == len(set(walked))
    assert not listed(walked, "private/")
    assert listed(walked, "team/") == sorted(name for name in catalog_repos if name.startswith("team/"))
    assert listed(walked, "public/") == sorted(name for name in catalog_repos if name.startswith("public/"))
    if n < len(walked):
        first = httpx.get(f"{basic_server.url}/v2/_catalog", params={"n": n}, headers=basic("reader"))
        assert len(first.json()["repositories"]) == n
        assert "link" in first.headers


def test_anonymous_catalog_shows_the_anonymous_repositories(basic_server: AuthServer, catalog_repos: list[str]) -> None:
    with RegistryClient(basic_server.url) as anonymous:
        walked = walk(anonymous, 3)
    assert walked
    assert all(name.startswith("public/") for name in walked)
    assert listed(walked, "public/") == sorted(name for name in catalog_repos if name.startswith("public/"))


def test_admin_sees_everything(basic_server: AuthServer, catalog_repos: list[str]) -> None:
    with basic_server.admin() as admin:
        walked = walk(admin, 4)
    assert set(catalog_repos) <= set(walked)


def test_token_catalog_shows_what_the_user_may_pull(token_server: AuthServer) -> None:
    with token_server.admin() as admin:
        for name in ("private/tcat", "team/tcat", "public/tcat"):
            admin.push_image(name, "v1")
    token = fetch_token(token_server.url, "reader", "registry:catalog:*")
    response = httpx.get(f"{token_server.url}/v2/_catalog", headers=bearer(token))
    assert response.status_code == 200, response.text
    names = response.json()["repositories"]
    assert "team/tcat" in names
    assert "public/tcat" in names
    assert "private/tcat" not in names
