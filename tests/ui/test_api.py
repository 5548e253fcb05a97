"""The UI's JSON API under /v2/_dockyard/, at the HTTP level."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, RegistryClient, assert_error, descriptor, image_manifest
from tests.support.server import DockyardServer
from tests.ui.conftest import Populated
from tests.ui.populate import BULK_REPOSITORY, BULK_TAGS, SBOM, SIGNATURE, image_config, push_image

API = "/v2/_dockyard"


def repositories(api: RegistryClient, **params: str | int) -> dict:
    response = api.get(f"{API}/repositories", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def tags(api: RegistryClient, repo: str, **params: str | int) -> dict:
    response = api.get(f"{API}/repositories/{repo}/-/tags", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def manifest(api: RegistryClient, repo: str, reference: str) -> dict:
    response = api.get(f"{API}/repositories/{repo}/-/manifests/{reference}")
    assert response.status_code == 200, response.text
    return response.json()


def csrf_headers(api: RegistryClient) -> dict[str, str]:
    token = api.get(f"{API}/session").json()["csrf"]
    return {"x-dockyard-csrf": token, "cookie": f"dockyard_csrf={token}"}


def test_repositories_are_searched_sorted_and_paged(api: RegistryClient) -> None:
    found = repositories(api, q="SERVICE-0", n=4)
    assert found["total"] == 10
    assert [repo["name"] for repo in found["repositories"]] == [f"team/service-0{i}" for i in range(4)]
    second = repositories(api, q="service-0", n=4, offset=4)
    assert second["repositories"][0]["name"] == "team/service-04"
    backwards = repositories(api, q="service-0", sort="-name", n=1)
    assert backwards["repositories"][0]["name"] == "team/service-09"


def test_search_is_literal(api: RegistryClient) -> None:
    assert repositories(api, q="%")["total"] == 0
    assert repositories(api, q="_")["total"] == 0
    assert repositories(api, q="service-1")["total"] == 2


def test_repository_row_counts_tags_deduplicated_size_and_last_push(api: RegistryClient) -> None:
    repo = "api/dedup"
    shared = b"a layer both images share" * 10
    api.push_blob(repo, shared)
    blob_sizes = {shared: len(shared)}
    for tag in ("one", "two"):
        config = image_config("amd64", tag)
        api.push_blob(repo, config)
        blob_sizes[config] = len(config)
        api.push_manifest(repo, tag, image_manifest(descriptor(config, OCI_CONFIG), [descriptor(shared, OCI_LAYER)]))
    row = repositories(api, q=repo)["repositories"][0]
    assert row["name"] == repo
    assert row["tagCount"] == 2
    assert row["size"] == sum(blob_sizes.values())
    assert row["lastPush"] > 0
    newest = repositories(api, sort="pushed", n=1)["repositories"][0]
    assert newest["lastPush"] >= row["lastPush"]


def test_ten_thousand_tags_first_page(api: RegistryClient, populated: Populated) -> None:
    page = tags(api, BULK_REPOSITORY, n=100)
    assert page["total"] == BULK_TAGS + 1
    assert [tag["name"] for tag in page["tags"]][:2] == ["build-00000", "build-00001"]
    assert len(page["tags"]) == 100
    first = page["tags"][0]
    assert first["digest"].startswith("sha256:")
    assert first["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert first["size"] > 0
    assert first["totalSize"] > first["size"]
    assert tags(api, BULK_REPOSITORY, q="build-0999", n=5)["total"] == 10
    assert tags(api, BULK_REPOSITORY, sort="-name", n=1)["tags"][0]["name"] == "seed"


def test_tags_sorted_by_push_time(api: RegistryClient) -> None:
    repo = "api/pushed"
    for tag in ("b-first", "a-second", "c-third"):
        push_image(api, repo, tag)
    assert [tag["name"] for tag in tags(api, repo, sort="pushed")["tags"]] == ["c-third", "a-second", "b-first"]
    assert [tag["name"] for tag in tags(api, repo, sort="-pushed")["tags"]] == ["b-first", "a-second", "c-third"]


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "size"},
        {"n": "ten"},
        {"offset": "-1"},
        {"n": "1e3"},
        {"q": "x" * 300},
        {"n": "²"},
        {"offset": "³"},
        {"q": "a\x00b"},
    ],
)
def test_bad_listing_parameters_are_400(api: RegistryClient, query: dict[str, str]) -> None:
    assert_error(api.get(f"{API}/repositories", params=query), 400, "UNSUPPORTED")
    assert_error(api.get(f"{API}/repositories/library/alpine/-/tags", params=query), 400, "UNSUPPORTED")


def test_unknown_and_invalid_repositories(api: RegistryClient) -> None:
    assert_error(api.get(f"{API}/repositories/no/such/-/tags"), 404, "NAME_UNKNOWN")
    assert_error(api.get(f"{API}/repositories/Not_Valid/-/tags"), 400, "NAME_INVALID")
    assert_error(api.get(f"{API}/repositories/library/alpine/-/manifests/nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(api.get(f"{API}/repositories/library/alpine/-/nothing"), 404, "UNSUPPORTED")


def test_image_details_come_from_its_config(api: RegistryClient, populated: Populated) -> None:
    image = manifest(api, "library/alpine", "3.20")
    assert image["kind"] == "image"
    assert image["digest"] == populated.content.images["library/alpine:3.20"].digest
    assert image["tags"] == ["3.20"]
    assert image["annotations"] == {"org.opencontainers.image.description": "library/alpine for amd64"}
    config = image["config"]
    assert config["platform"] == "linux/amd64"
    assert config["created"] == "2026-11-30T12:00:00Z"
    assert config["labels"] == {"org.opencontainers.image.source": "https://example.com/library/alpine:3.20:amd64"}
    assert [step["created_by"] for step in config["history"]] == [
        "ADD rootfs-library/alpine:3.20:amd64.tar /",
        'CMD ["/bin/sh"]',
    ]
    assert image["layers"][0]["mediaType"] == OCI_LAYER
    assert image["layers"][0]["annotations"]["org.opencontainers.image.title"] == "rootfs.tar.gz"


def test_pull_commands_by_tag_and_by_digest(api: RegistryClient, populated: Populated) -> None:
    host = populated.url.removeprefix("http://")
    image = manifest(api, "library/alpine", "3.20")
    commands = [pull["command"] for pull in image["pull"]]
    assert f"docker pull {host}/library/alpine:3.20" in commands
    assert f"podman pull {host}/library/alpine@{image['digest']}" in commands
    by_digest = manifest(api, "library/alpine", image["digest"])
    assert by_digest["pull"][0]["command"] == f"docker pull {host}/library/alpine:3.20"
    sbom = populated.content.sbom
    assert sbom is not None
    artifact = manifest(api, "team/signed", sbom.digest)
    assert artifact["kind"] == "artifact"
    assert {pull["tool"] for pull in artifact["pull"]} == {"oras"}


def test_index_lists_platforms_with_presence(api: RegistryClient, populated: Populated) -> None:
    index = manifest(api, "team/multi", "latest")
    assert index["kind"] == "index"
    assert "config" not in index
    assert [(child["platform"], child["present"]) for child in index["manifests"]] == [
        ("linux/amd64", True),
        ("linux/arm64/v8", True),
    ]
    assert index["manifests"][1]["digest"] == populated.content.children["arm64"].digest


def test_referrers_are_grouped_and_recursive(api: RegistryClient, populated: Populated) -> None:
    content = populated.content
    assert content.sbom is not None
    assert content.signature is not None
    assert content.sbom_signature is not None
    groups = manifest(api, "team/signed", "v1")["referrers"]
    assert [group["artifactType"] for group in groups] == [SBOM, SIGNATURE]
    sbom = groups[0]["manifests"][0]
    assert sbom["digest"] == content.sbom.digest
    assert sbom["referrers"][0]["artifactType"] == SIGNATURE
    assert sbom["referrers"][0]["manifests"][0]["digest"] == content.sbom_signature.digest
    assert groups[1]["manifests"][0]["digest"] == content.signature.digest
    assert (
        manifest(api, "team/signed", content.sbom.digest)["subject"]["digest"]
        == content.images["team/signed:v1"].digest
    )


def test_session_issues_a_strict_csrf_cookie(api: RegistryClient) -> None:
    response = api.get(f"{API}/session")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] is None
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"dockyard_csrf={body['csrf']};")
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here


def test_rights_without_authentication(api: RegistryClient) -> None:
    rights = api.get(f"{API}/repositories/library/alpine/-/rights").json()
    assert rights == {"repository": "library/alpine", "pull": True, "push": True, "delete": True, "cacheOf": None}


def test_deletes_need_the_csrf_token(api: RegistryClient) -> None:
    repo = "api/delete"
    image = push_image(api, repo, "doomed")
    push_image(api, repo, "kept")
    url = f"{API}/repositories/{repo}/-/tags/doomed"
    assert_error(api.delete(url), 403, "DENIED")
    token = csrf_headers(api)
    assert_error(api.delete(url, headers={**token, "x-dockyard-csrf": "forged"}), 403, "DENIED")
    assert api.delete(url, headers=token).status_code == 204
    assert [tag["name"] for tag in tags(api, repo)["tags"]] == ["kept"]
    assert api.get_manifest(repo, image.digest).status_code == 200  # untagging keeps the manifest
    assert_error(api.delete(url, headers=token), 404, "MANIFEST_UNKNOWN")

    by_tag = f"{API}/repositories/{repo}/-/manifests/kept"
    assert_error(api.delete(by_tag, headers=token), 400, "DIGEST_INVALID")
    assert api.delete(f"{API}/repositories/{repo}/-/manifests/{image.digest}", headers=token).status_code == 204
    assert api.get_manifest(repo, image.digest).status_code == 404


def test_static_files_are_served_with_a_strict_policy(api: RegistryClient) -> None:
    root = api.get("/")
    assert root.status_code == 302
    assert root.headers["location"] == "/ui/"
    index = api.get("/ui/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert api.get("/ui/", headers={"if-none-match": index.headers["etag"]}).status_code == 304
    assert api.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert_error(api.get("/ui/missing.js"), 404, "UNSUPPORTED")
    assert_error(api.get("/ui/../pyproject.toml"), 404, "UNSUPPORTED")


def test_ui_can_be_turned_off(tmp_path: Path) -> None:
    with DockyardServer(tmp_path / "data", env={"DOCKYARD_UI__ENABLED": "false"}) as server:
        assert_error(httpx.get(server.url + "/"), 404, "UNSUPPORTED")
        assert_error(httpx.get(server.url + "/ui/"), 404, "UNSUPPORTED")
        listing = httpx.get(server.url + f"{API}/repositories")
        assert listing.status_code == 200
        assert json.loads(listing.content) == {"repositories": [], "total": 0, "offset": 0}
