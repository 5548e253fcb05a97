"""Tag listing: order, pagination with n/last and Link, prefixes."""

from __future__ import annotations

import pytest
from tests.http.ocitest import RegistryClient, assert_error, next_link

# Tags chosen so that prefix relationships, case and separators all matter for ordering.
TAGS = [
    "v1",
    "v1.0",
    "v1.0.1",
    "v1-rc",
    "v10",
    "v2",
    "V1",
    "latest",
    "latest-dev",
    "a",
    "a_b",
    "a.b",
    "z9",
    "Z",
]


@pytest.fixture
def tagged_repo(client: RegistryClient, repo: str) -> str:
    image = client.push_image(repo, TAGS[0])
    for tag in TAGS[1:]:
        client.push_manifest(repo, tag, image.body)
    return repo


def test_tags_are_listed_sorted(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo)
    assert response.status_code == 200
    assert response.json() == {"name": tagged_repo, "tags": sorted(TAGS)}
    assert response.headers["content-type"].startswith("application/json")
    assert "link" not in response.headers


@pytest.mark.parametrize("page", [1, 2, 3, 5, len(TAGS) - 1])
def test_link_pagination_visits_every_tag_once_in_order(client: RegistryClient, tagged_repo: str, page: int) -> None:
    tags = client.follow_pages(f"/v2/{tagged_repo}/tags/list", {"n": page}, "tags")
    assert tags == sorted(TAGS)


def test_n_limits_and_link_points_at_the_rest(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo, n=3)
    assert response.json()["tags"] == sorted(TAGS)[:3]
    link = next_link(response)
    assert link is not None
    assert "/v2/" + tagged_repo + "/tags/list" in link
    follow = client.get(link)
    assert follow.json()["tags"] == sorted(TAGS)[3:6]


def test_last_starts_after_the_given_tag(client: RegistryClient, tagged_repo: str) -> None:
    ordered = sorted(TAGS)
    for index, tag in enumerate(ordered):
        response = client.tags(tagged_repo, last=tag, n=100)
        assert response.json()["tags"] == ordered[index + 1 :], f"last={tag}"


def test_last_need_not_be_an_existing_tag(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo, last="v1.0.0", n=100)
    assert response.json()["tags"] == [tag for tag in sorted(TAGS) if tag > "v1.0.0"]


def test_prefix_tags_are_not_lost_across_page_boundaries(client: RegistryClient, repo: str) -> None:
    tags = ["1", "1.0", "1.0.0", "1.0.0-a", "1.0.0-b", "1.0.1", "1.1", "10", "10.0"]
    image = client.push_image(repo, tags[0])
    for tag in tags[1:]:
        client.push_manifest(repo, tag, image.body)
    for page in (1, 2, 4):
        assert client.follow_pages(f"/v2/{repo}/tags/list", {"n": page}, "tags") == tags
    assert client.tags(repo, n=2, last="1.0").json()["tags"] == ["1.0.0", "1.0.0-a"]


def test_n_zero_returns_no_tags_and_no_link(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo, n=0)
    assert response.status_code == 200
    assert response.json()["tags"] == []
    assert "link" not in response.headers


def test_n_larger_than_the_list(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo, n=1000)
    assert response.json()["tags"] == sorted(TAGS)
    assert "link" not in response.headers


def test_last_past_the_end_is_empty(client: RegistryClient, tagged_repo: str) -> None:
    response = client.tags(tagged_repo, last="zzzz")
    assert response.status_code == 200
    assert response.json()["tags"] == []


# "²" passes str.isdigit but not int(), and int() refuses thousands of digits: both were 500s.
@pytest.mark.parametrize("n", ["abc", "-1", "1.5", "1e3", "²", " 1", "9" * 5000])
def test_malformed_n_is_a_400(client: RegistryClient, tagged_repo: str, n: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": n})
    assert response.status_code == 400, response.text
    assert "traceback" not in response.text.lower()


def test_huge_n_is_not_an_error(client: RegistryClient, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": "9" * 30})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["tags"] == sorted(TAGS)


def test_unknown_repository_is_404_name_unknown(client: RegistryClient, repo: str) -> None:
    assert_error(client.tags(repo + "/absent"), 404, "NAME_UNKNOWN")


def test_deleted_tag_disappears_from_the_list(client: RegistryClient, tagged_repo: str) -> None:
    assert client.delete(f"/v2/{tagged_repo}/manifests/v1.0").status_code == 202
    assert client.tags(tagged_repo).json()["tags"] == sorted(set(TAGS) - {"v1.0"})
