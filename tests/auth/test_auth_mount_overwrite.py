"""Mounts need pull on the source and push on the target; moving a tag needs overwrite besides push."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.auth.support import PASSWORDS, AuthServer, basic, bearer, fetch_token, running
from tests.http.ocitest import RegistryClient, error_codes
from tests.support.backends import backend_env, every_backend


def _as(server: AuthServer, user: str) -> RegistryClient:
    client = RegistryClient(server.url)
    client.http.auth = httpx.BasicAuth(user, PASSWORDS[user])
    return client


def test_mount_needs_pull_on_the_source(basic_server: AuthServer) -> None:
    with basic_server.admin() as admin:
        digest = admin.push_blob("private/mount-source", b"a blob only admin may pull")
        team_digest = admin.push_blob("team/mount-source", b"a blob writer may pull")
    with _as(basic_server, "writer") as writer:
        refused = writer.start_upload("team/mount-target", mount=digest, **{"from": "private/mount-source"})
        # Not mounted: an ordinary session opens, and the blob stays unknown to the target.
        assert refused.status_code == 202, refused.text
        assert writer.http.head(f"/v2/team/mount-target/blobs/{digest}").status_code == 404
        mounted = writer.start_upload("team/mount-target", mount=team_digest, **{"from": "team/mount-source"})
        assert mounted.status_code == 201, mounted.text
        assert writer.http.head(f"/v2/team/mount-target/blobs/{team_digest}").status_code == 200


def test_mount_needs_push_on_the_target(basic_server: AuthServer) -> None:
    with basic_server.admin() as admin:
        digest = admin.push_blob("team/mount-src2", b"pullable by reader")
    with _as(basic_server, "reader") as reader:
        response = reader.start_upload("team/mount-dst2", mount=digest, **{"from": "team/mount-src2"})
        assert response.status_code == 403
        assert error_codes(response) == ["DENIED"]


def test_token_mount_needs_push_in_the_token_and_the_users_pull_on_the_source(token_server: AuthServer) -> None:
    """The source counts by the user's rights (who could get a token for it), the target by the token."""
    with token_server.admin() as admin:
        digest = admin.push_blob("team/tmount-src", b"token mount")
        hidden = admin.push_blob("private/tmount-src", b"token mount, not for writer")
    url = f"{token_server.url}/v2/team/tmount-dst/blobs/uploads/"
    pull_only = fetch_token(token_server.url, "writer", "repository:team/tmount-dst:pull")
    response = httpx.post(url, params={"mount": digest, "from": "team/tmount-src"}, headers=bearer(pull_only))
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    target = fetch_token(token_server.url, "writer", "repository:team/tmount-dst:pull,push")
    refused = httpx.post(url, params={"mount": hidden, "from": "private/tmount-src"}, headers=bearer(target))
    assert refused.status_code == 202
    mounted = httpx.post(url, params={"mount": digest, "from": "team/tmount-src"}, headers=bearer(target))
    assert mounted.status_code == 201


def _push_two_images(client: RegistryClient, repository: str) -> tuple[bytes, bytes]:
    first = client.push_image(repository, None, seed="first")
    second = client.push_image(repository, None, seed="second")
    return first.body, second.body


@every_backend
def test_overwrite_is_separate_from_push(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    with running(tmp_path, token_mode=False, env=backend_env(request, backend)) as server:
        _overwrite_needs_its_own_right(server)


def _overwrite_needs_its_own_right(basic_server: AuthServer) -> None:
    repository = "team/overwrite"
    with basic_server.admin() as admin:
        first, second = _push_two_images(admin, repository)
    with _as(basic_server, "writer") as writer:
        assert writer.put_manifest(repository, "stable", first).status_code == 201, "a new tag is no move"
        assert writer.put_manifest(repository, "stable", first).status_code == 201, "nor is the same digest"
        moved = writer.put_manifest(repository, "stable", second)
        assert moved.status_code == 403, moved.text
        assert error_codes(moved) == ["DENIED"]
        assert "stable" in moved.text
    with _as(basic_server, "tagger") as tagger:
        assert tagger.put_manifest(repository, "stable", second).status_code == 201
    response = httpx.get(f"{basic_server.url}/v2/{repository}/manifests/stable", headers=basic("reader"))
    assert response.content == second


def test_overwrite_in_token_mode_follows_the_users_rules(token_server: AuthServer) -> None:
    repository = "team/token-overwrite"
    with token_server.admin() as admin:
        first, second = _push_two_images(admin, repository)
        assert admin.put_manifest(repository, "stable", first).status_code == 201
    url = f"{token_server.url}/v2/{repository}/manifests/stable"
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    writer = fetch_token(token_server.url, "writer", f"repository:{repository}:pull,push")
    assert httpx.put(url, content=second, headers={**headers, **bearer(writer)}).status_code == 403
    tagger = fetch_token(token_server.url, "tagger", f"repository:{repository}:pull,push")
    assert httpx.put(url, content=second, headers={**headers, **bearer(tagger)}).status_code == 201


def test_automatic_mount_discovers_only_pullable_repositories(basic_server: AuthServer) -> None:
    with basic_server.admin() as admin:
        hidden = admin.push_blob("private/auto-holder", b"held only where writer may not pull")
        visible = admin.push_blob("team/auto-holder", b"held where writer may pull")
    with _as(basic_server, "writer") as writer:
        refused = writer.start_upload("team/auto-target", mount=hidden)
        assert refused.status_code == 202, "a blob the caller may not pull is not discovered"
        assert writer.http.head(f"/v2/team/auto-target/blobs/{hidden}").status_code == 404
        found = writer.start_upload("team/auto-target", mount=visible)
        assert found.status_code == 201, found.text
        # `from` naming a repository the caller may not pull falls back to discovery as well.
        fallback = writer.start_upload("team/auto-target2", mount=visible, **{"from": "private/auto-holder"})
        assert fallback.status_code == 201
