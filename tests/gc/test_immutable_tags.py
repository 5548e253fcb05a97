"""Immutable tags: a tag covered by a rule never moves to another digest; re-pushing its digest is fine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.gc.graphs import Stores, config_blob, image
from tests.http.ocitest import RegistryClient, assert_error
from tests.support.server import DockyardServer

from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.registry import ImmutableTagRule, ManifestService, TagMoves

RULES = json.dumps([{"repository": "prod/*", "tags": "v*"}])


@pytest.fixture(scope="module")
def immutable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    server = DockyardServer(tmp_path_factory.mktemp("immutable") / "data", env={"DOCKYARD_IMMUTABLE_TAGS": RULES})
    with server:
        yield server


def test_an_immutable_tag_refuses_another_digest(immutable_server: DockyardServer) -> None:
    with RegistryClient(immutable_server.url) as client:
        first = client.push_image("prod/app", "v1", seed="first")
        other = client.push_image("prod/app", None, seed="other")
        response = client.put_manifest("prod/app", "v1", other.body)
        assert_error(response, 403, "DENIED")
        assert "may not be moved" in response.json()["errors"][0]["message"]
        assert client.get_manifest("prod/app", "v1").headers["docker-content-digest"] == first.digest
        # The same digest again is not a move.
        assert client.put_manifest("prod/app", "v1", first.body).status_code == 201


def test_tags_and_repositories_outside_the_rule_still_move(immutable_server: DockyardServer) -> None:
    with RegistryClient(immutable_server.url) as client:
        client.push_image("prod/app", "latest", seed="a")
        client.push_image("prod/app", "latest", seed="b")
        client.push_image("dev/app", "v1", seed="a")
        moved = client.push_image("dev/app", "v1", seed="b")
        assert client.get_manifest("dev/app", "v1").headers["docker-content-digest"] == moved.digest


@pytest.mark.parametrize(
    ("rules", "tag_moves", "moves"),
    [
        ((), TagMoves.ALLOWED, True),
        ((), TagMoves.REFUSED, False),
        ((ImmutableTagRule("*", "*"),), TagMoves.ALLOWED, False),
        ((ImmutableTagRule("*", "*"),), TagMoves.FORCED, True),
    ],
)
def test_tag_moves_and_rules_decide_together(
    tmp_path: Path, rules: tuple[ImmutableTagRule, ...], tag_moves: TagMoves, moves: bool
) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        manifests = ManifestService(stores.meta, immutable_tags=rules)
        try:
            first, second = image(config_blob(1), [b"layer"]), image(config_blob(2), [b"layer"])
            await stores.push("any/repo", first, "v1")
            for blob in second.blobs:
                await stores.push_blob("any/repo", blob)
            push = manifests.put("any/repo", "v1", second.body, second.media_type, [], tag_moves=tag_moves)
            if moves:
                await push
            else:
                with pytest.raises(RegistryError) as refused:
                    await push
                assert refused.value.code is ErrorCode.DENIED
            expected = second.digest if moves else first.digest
            assert (await stores.meta.manifest_by_tag("any/repo", "v1")).digest == expected  # type: ignore[union-attr]
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_an_immutable_tag_cannot_be_deleted(immutable_server: DockyardServer) -> None:
    with RegistryClient(immutable_server.url) as client:
        kept = client.push_image("prod/kept", "v1", seed="kept")
        client.put_manifest("prod/kept", "latest", kept.body)
        refused = client.delete("/v2/prod/kept/manifests/v1")
        assert_error(refused, 403, "DENIED")
        assert "immutable" in refused.json()["errors"][0]["message"]
        assert_error(client.delete(f"/v2/prod/kept/manifests/{kept.digest}"), 403, "DENIED")
        assert client.get_manifest("prod/kept", "v1").headers["docker-content-digest"] == kept.digest
        assert client.get_manifest("prod/kept", kept.digest).status_code == 200
        # Tags outside the rule go as before; so does a manifest no immutable tag points at.
        assert client.delete("/v2/prod/kept/manifests/latest").status_code == 202
        loose = client.push_image("prod/kept", "nightly", seed="loose")
        assert client.delete(f"/v2/prod/kept/manifests/{loose.digest}").status_code == 202


def test_the_ui_cannot_delete_an_immutable_tag_either(immutable_server: DockyardServer) -> None:
    with RegistryClient(immutable_server.url) as client:
        kept = client.push_image("prod/shown", "v1", seed="shown")
    with httpx.Client(base_url=immutable_server.url) as browser:
        browser.headers["x-dockyard-csrf"] = browser.get("/v2/_dockyard/session").json()["csrf"]
        base = "/v2/_dockyard/repositories/prod/shown/-"
        assert_error(browser.delete(f"{base}/tags/v1"), 403, "DENIED")
        assert_error(browser.delete(f"{base}/manifests/{kept.digest}"), 403, "DENIED")
    with RegistryClient(immutable_server.url) as client:
        assert client.get_manifest("prod/shown", "v1").status_code == 200


@pytest.mark.parametrize(
    ("tag_moves", "deleted"),
    [(TagMoves.ALLOWED, False), (TagMoves.REFUSED, False), (TagMoves.FORCED, True)],
)
@pytest.mark.parametrize("by_digest", [False, True])
def test_only_an_explicit_overwrite_grant_deletes_an_immutable_tag(
    tmp_path: Path, tag_moves: TagMoves, deleted: bool, by_digest: bool
) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        manifests = ManifestService(stores.meta, immutable_tags=(ImmutableTagRule("any/*", "v*"),))
        try:
            pushed = image(config_blob(1), [b"layer"])
            await stores.push("any/repo", pushed, "v1")
            delete = manifests.delete("any/repo", pushed.digest if by_digest else "v1", tag_moves=tag_moves)
            if deleted:
                await delete
            else:
                with pytest.raises(RegistryError) as refused:
                    await delete
                assert refused.value.code is ErrorCode.DENIED
            assert (await stores.meta.manifest_by_tag("any/repo", "v1") is None) == deleted
        finally:
            await stores.close()

    asyncio.run(scenario())
