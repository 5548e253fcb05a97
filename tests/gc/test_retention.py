"""Retention rules: what a plan deletes, that the real run deletes exactly the dry run's plan, and pulls."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.gc.conftest import run_command
from tests.gc.graphs import Stores, config_blob, image, index
from tests.http.ocitest import RegistryClient
from tests.support.server import DockyardServer

from dockyard.config.settings import RetentionRule
from dockyard.gc.retention import Retention
from dockyard.registry import ManifestService
from dockyard.registry.pulls import PullLog

DAY = 86400.0


async def _tagged_history(stores: Stores, repository: str, tags: list[str]) -> None:
    for number, tag in enumerate(tags):
        await stores.push(repository, image(config_blob(number), [f"layer {tag}".encode()]), tag)


def test_a_rule_keeps_the_newest_the_matching_and_the_recently_pulled(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        try:
            await _tagged_history(stores, "team/app", ["release-1", "t1", "t2", "t3", "t4", "t5"])
            await stores.meta.record_pulls([("team/app", "t1", time.time())])
            rule = RetentionRule(repository="team/*", keep_last=2, keep_tags="release-.*", keep_pulled_within_days=1)
            retention = Retention(stores.meta, [rule])
            dry = await retention.plan()
            assert [tag.name for plan in dry for tag in plan.tags] == ["t2", "t3"]
            real = await retention.apply()
            assert real == dry
            assert await retention.plan() == []
            assert await stores.meta.list_tags("team/app", 100, None) == ["release-1", "t1", "t4", "t5"]
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_untagged_manifests_older_than_the_rule_go_but_children_of_an_index_stay(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        try:
            loose = image(config_blob(1), [b"loose"])
            child = image(config_blob(2), [b"child"])
            await stores.push("team/app", loose, None)
            await stores.push("team/app", child, None)
            await stores.push("team/app", index([child]), "multi")
            retention = Retention(stores.meta, [RetentionRule(repository="team/app", untagged_older_than_days=1)])
            assert await retention.plan() == []
            later = time.time() + 2 * DAY
            dry = await retention.plan(later)
            assert [digest for plan in dry for digest, _ in plan.manifests] == [loose.digest]
            assert await retention.apply(later) == dry
            assert not await stores.has_manifest("team/app", loose.digest)
            assert await stores.has_manifest("team/app", child.digest)
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_a_tag_pushed_again_after_the_plan_is_kept(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        try:
            await _tagged_history(stores, "team/app", ["old", "new"])
            retention = Retention(stores.meta, [RetentionRule(repository="team/app", keep_last=1)])
            (plan,) = await retention.plan()
            await stores.push("team/app", image(config_blob(9), [b"fresh"]), "old")
            assert await stores.meta.delete_unchanged_tags("team/app", plan.tags) == []
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_pulls_by_tag_are_recorded_in_batches(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        pulls = PullLog(stores.meta)
        manifests = ManifestService(stores.meta, pulls=pulls)
        try:
            await _tagged_history(stores, "team/app", ["pulled", "idle"])
            for _ in range(3):
                await manifests.resolve("team/app", "pulled")
            assert all(state.pulled_at is None for state in await stores.meta.tag_states("team/app"))
            await pulls.flush()
            pulled = {state.name: state.pulled_at for state in await stores.meta.tag_states("team/app")}
            assert pulled["pulled"] is not None
            assert pulled["idle"] is None
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_the_retention_command_deletes_what_its_dry_run_printed(tmp_path: Path) -> None:
    env = {"DOCKYARD_RETENTION": json.dumps([{"repository": "team/*", "keep_last": 1}])}
    with DockyardServer(tmp_path / "data", env=env) as server, RegistryClient(server.url) as client:
        for tag in ("a", "b", "c"):
            client.push_image("team/app", tag, seed=tag)
        dry = _retention(server, "--dry-run")
        real = _retention(server)
        assert [line.replace("would delete", "deleted") for line in dry] == real
        assert "retention deleted 2 tags and 0 untagged manifests in 1 repositories" in real
        assert client.tags("team/app").json()["tags"] == ["c"]


def _retention(server: DockyardServer, *flags: str) -> list[str]:
    result = run_command(server, "retention", *flags)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()
