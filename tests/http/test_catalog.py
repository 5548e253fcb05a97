"""Repository catalog with n/last pagination."""

from __future__ import annotations

from tests.http.ocitest import RegistryClient, next_link


def push_repos(client: RegistryClient, base: str, names: list[str]) -> list[str]:
    repos = [f"{base}/{name}" for name in names]
    for name in repos:
        client.push_image(name, "latest")
    return repos


def test_catalog_lists_pushed_repositories_sorted(client: RegistryClient, repo: str) -> None:
    repos = push_repos(client, repo, ["b", "a", "a/x", "c-d"])
    response = client.get("/v2/_catalog", params={"n": 1000})
    assert response.status_code == 200
    assert next_link(response) is None
    listed = response.json()["repositories"]
    assert listed == sorted(listed)
    assert set(repos) <= set(listed)


def test_catalog_pagination_with_link(client: RegistryClient, repo: str) -> None:
    repos = sorted(push_repos(client, repo, ["r1", "r2", "r3", "r10", "r1/sub"]))
    walked = client.follow_pages("/v2/_catalog", {"n": 2}, "repositories", limit=100000)
    assert walked == sorted(walked)
    assert len(walked) == len(set(walked))
    assert [name for name in walked if name.startswith(repo + "/")] == repos


def test_catalog_last_and_n(client: RegistryClient, repo: str) -> None:
    repos = sorted(push_repos(client, repo, ["p", "q", "r"]))
    response = client.get("/v2/_catalog", params={"n": 2, "last": repos[0]})
    assert response.status_code == 200
    assert response.json()["repositories"] == repos[1:3]


def test_catalog_n_zero_is_empty(client: RegistryClient, repo: str) -> None:
    push_repos(client, repo, ["only"])
    response = client.get("/v2/_catalog", params={"n": 0})
    assert response.status_code == 200
    assert response.json()["repositories"] == []
    assert "link" not in response.headers
