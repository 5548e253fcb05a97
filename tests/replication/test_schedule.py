"""Scheduled pull rules, their slots driven by the test's own clock: only what the tag filter
selects is fetched, a tag moved upstream moves here, nothing outside the filter is touched; two
instances on one PostgreSQL database run each slot once; a rule never runs twice at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.remote.support import Distribution
from tests.replication.support import image, in_process, inventory, push_images, settings_of, target

from dockyard.commands.stores import open_stores
from dockyard.remote import RemoteSettings
from dockyard.replication.scheduler import latest_slot

SCHEDULE = "*/5 * * * *"
START = latest_slot(SCHEDULE, 1_900_000_000.0)  # a slot boundary; the test's clock starts there
SLOT = 300.0


def pull_rule(name: str, upstream: str, **keys: Any) -> dict[str, Any]:
    return {
        "targets": [target("upstream", upstream)],
        "rules": [
            {
                "name": name,
                "direction": "pull",
                "target": "upstream",
                "trigger": "schedule",
                "schedule": SCHEDULE,
                **keys,
            }
        ],
    }


def test_a_scheduled_pull_fetches_what_the_filter_selects_and_follows_moved_tags(
    tmp_path: Path, distribution: Distribution
) -> None:
    upstream = RemoteSettings(distribution.url)
    versions = {tag: image(f"tool-{tag}") for tag in ("1.1.0", "1.2.0", "v1.5", "1.9.3-rc.1", "2.0.0", "latest", "dev")}
    push_images(upstream, "sched/tool", *((item, tag) for tag, item in versions.items()))
    settings = settings_of(
        tmp_path,
        pull_rule(
            "mirror-tool",
            distribution.url,
            repositories=["sched/tool"],
            tags=["lat*"],
            semver=">=1.2 <2",
            destination="mirror/{repository}",
        ),
    )
    selected = {"1.2.0", "v1.5", "latest"}  # a pre-release is outside a range that names none

    async def scenario() -> None:
        async with in_process(settings) as composed:
            scheduler = composed.replication.scheduler
            assert await scheduler.tick(START) == []  # the first look only notes where the schedule is
            assert await scheduler.tick(START + SLOT - 1) == []
            [run] = await scheduler.tick(START + SLOT)
            assert run.result == "succeeded"
            assert run.slot == START + SLOT
            assert await scheduler.tick(START + SLOT + 60) == []  # that slot is taken
            latest = versions["latest"]  # a tag of this registry's own, outside the filter
            await composed.registry.manifests.put(
                "mirror/sched/tool", "local-only", latest.manifest, latest.media_type, ()
            )

    asyncio.run(scenario())
    here = asyncio.run(local_inventory(settings, "mirror/sched/tool"))
    there = inventory(upstream, "sched/tool")
    assert here == {tag: there[tag] for tag in selected} | {"local-only": there["latest"]}

    moved, newer = image("tool-moved"), image("tool-1.3.0")
    push_images(upstream, "sched/tool", (moved, "1.2.0"), (newer, "1.3.0"), (image("tool-3"), "3.0.0"))

    async def next_slot() -> None:
        async with in_process(settings) as composed:
            [run] = await composed.replication.scheduler.tick(START + 2 * SLOT)
            assert run.result == "succeeded"
            assert run.manifests == 2

    asyncio.run(next_slot())
    there = inventory(upstream, "sched/tool")
    here = asyncio.run(local_inventory(settings, "mirror/sched/tool"))
    assert here == {tag: there[tag] for tag in (*selected, "1.3.0")} | {"local-only": str(versions["latest"].digest)}


async def local_inventory(settings: Any, repository: str) -> dict[str, str]:
    async with in_process(settings) as composed:
        registry = composed.registry
        tags = (await registry.listing.tags(repository, 10_000, None)).items
        return {tag: (await registry.manifests.resolve(repository, tag)).digest for tag in tags}


def test_two_instances_on_postgresql_run_each_slot_once(
    tmp_path: Path, distribution: Distribution, postgres_database: Any
) -> None:
    upstream = RemoteSettings(distribution.url)
    push_images(upstream, "shared/app", (image("shared-1"), "1"), (image("shared-2"), "2"))
    database = postgres_database()["DOCKYARD_DATABASE__URL"]
    settings = settings_of(
        tmp_path, pull_rule("shared", distribution.url, repositories=["shared/app"]), database={"url": database}
    )
    slots = [START + n * SLOT for n in range(1, 5)]

    async def instance(ready: asyncio.Barrier, results: list[Any]) -> None:
        async with in_process(settings) as composed:
            scheduler = composed.replication.scheduler
            await scheduler.tick(START)
            for slot in slots:
                await ready.wait()  # both instances see each slot fall due at the same moment
                results.extend(await scheduler.tick(slot))

    async def both() -> tuple[list[Any], list[Any]]:
        ready = asyncio.Barrier(2)
        first: list[Any] = []
        second: list[Any] = []
        await asyncio.gather(instance(ready, first), instance(ready, second))
        return first, second

    first, second = asyncio.run(both())
    runs = sorted(first + second, key=lambda run: run.slot)
    assert [run.slot for run in runs] == slots
    assert all(run.result == "succeeded" for run in runs)
    assert sum(run.manifests for run in runs) == 2  # copied by the first slot's run, found up to date after
    assert asyncio.run(local_inventory(settings, "shared/app")) == inventory(upstream, "shared/app")

    async def history() -> list[Any]:
        async with in_process(settings) as composed:
            return next(status.runs for status in await composed.replication.status())

    assert sorted(run.slot for run in asyncio.run(history())) == slots


def test_a_rule_never_runs_twice_at_once(tmp_path: Path, distribution: Distribution) -> None:
    settings = settings_of(tmp_path, pull_rule("busy", distribution.url, repositories=["busy/app"]))

    async def scenario() -> None:
        async with in_process(settings) as composed, open_stores(settings) as (meta, _):
            runner = composed.replication.runners["busy"]
            assert await meta.claim_replication("busy", "another-process", 60)  # as another process holds it
            assert await runner.run("manual") is None
            assert await composed.replication.scheduler.tick(START) == []
            assert await composed.replication.scheduler.tick(START + SLOT) == []  # the slot waits
            await meta.release_replication("busy", "another-process")
            [run] = await composed.replication.scheduler.tick(START + SLOT + 1)
            assert run.slot == START + SLOT
            assert (await runner.run("manual")) is not None

    asyncio.run(scenario())
