"""Event rules: pushes, tag moves and deletes replicated as they happen, from the persistent outbox;
nothing lost when the replicating dockyard is killed with events pending for a target that is down;
an instance with `replication.run: false` queues the events that another instance replicates."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
from tests.remote.conftest import TokenDockyard
from tests.remote.support import Distribution
from tests.replication.conftest import Source
from tests.replication.support import image, in_process, inventory, push_images, put_image, settings_of, target
from tests.support.faultproxy import FaultProxy
from tests.support.metrics import metric
from tests.support.wait import wait_until

from dockyard.remote import RemoteSettings

DEADLINE = 90.0


def settle(settings: RemoteSettings, repository: str, expected: dict[str, str]) -> None:
    wait_until(
        lambda: inventory(settings, repository) == expected,
        DEADLINE,
        lambda: f"{repository} holds {inventory(settings, repository)}, not {expected}",
    )


def test_pushes_tag_moves_and_deletes_follow_as_they_happen(
    source: Source, distribution: Distribution, token_dockyard: TokenDockyard
) -> None:
    """The server's rules events-to-dr (`team/*`, tags v* and latest, deletes) and events-to-dist
    (`team/*` into `ev/`, every tag, deletes)."""
    token = token_dockyard.settings("admin")
    dist = RemoteSettings(distribution.url)
    local = source.local
    first, second = image("event-one"), image("event-two")
    push_images(local, "team/app", (first, "v1"), (first, "dev"), (second, "nightly"))
    push_images(local, "other/app", (image("outside"), "v1"))
    everything = inventory(local, "team/app")
    # every tag of a digest a selected tag points at: dev goes along with v1, nightly stays home
    settle(token, "team/app", {"v1": str(first.digest), "dev": str(first.digest)})
    settle(dist, "ev/team/app", everything)
    assert inventory(token, "other/app") == {}

    push_images(local, "team/app", (second, "v1"))  # the tag moves
    settle(token, "team/app", {"v1": str(second.digest), "nightly": str(second.digest), "dev": str(first.digest)})
    settle(dist, "ev/team/app", inventory(local, "team/app"))

    assert httpx.delete(f"{source.server.url}/v2/team/app/manifests/nightly").status_code == 202
    assert httpx.delete(f"{source.server.url}/v2/team/app/manifests/{first.digest}").status_code == 202
    remaining = {"v1": str(second.digest)}
    assert inventory(local, "team/app") == remaining
    settle(token, "team/app", remaining)
    # Distribution cannot untag: the manifest behind `nightly` is still tagged v1 here, so it stays
    settle(dist, "ev/team/app", {"v1": str(second.digest), "nightly": str(second.digest)})
    assert metric(source.server.url, "dockyard_replication_manifests_total", rule="events-to-dr") >= 2


def test_events_pending_for_a_target_that_is_down_survive_a_kill(
    source: Source, distribution: Distribution, proxy: FaultProxy
) -> None:
    """The server's rule survivor (`kill/**`) pushes to Distribution through the proxy."""
    proxy.down()
    local = source.local
    try:
        images = [image(f"killed-{n}") for n in range(4)]
        push_images(local, "kill/app", *((item, f"t{n}") for n, item in enumerate(images)))
        wait_until(
            lambda: metric(source.server.url, "dockyard_replication_errors_total", rule="survivor") > 0,
            DEADLINE,
            "the rule never tried the target that is down",
        )
        source.server.kill()
    finally:
        proxy.up()
    source.server.start()
    settle(RemoteSettings(distribution.url), "kill/app", inventory(local, "kill/app"))
    assert len(inventory(local, "kill/app")) == 4


def test_an_instance_that_does_not_run_replication_queues_its_events_for_one_that_does(
    tmp_path: Path, distribution: Distribution
) -> None:
    rule = {
        "name": "elsewhere",
        "direction": "push",
        "trigger": "event",
        "target": "dist",
        "repositories": ["instances/app"],
    }
    rules = {"targets": [target("dist", distribution.url)], "rules": [rule]}
    pushed = image("pushed-where-replication-does-not-run")

    async def never_paused() -> bool:
        return False

    async def scenario() -> None:
        async with (
            in_process(settings_of(tmp_path, rules | {"run": False})) as serving,
            in_process(settings_of(tmp_path, rules)) as replicating,
        ):
            await asyncio.wait_for(serving.replication.run(never_paused), DEADLINE)  # no work here: it ends at once
            worker = asyncio.create_task(replicating.replication.run(never_paused))
            try:
                await put_image(serving, "instances/app", pushed, "v1")
                expected = {"v1": str(pushed.digest)}
                await asyncio.to_thread(settle, RemoteSettings(distribution.url), "instances/app", expected)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    asyncio.run(scenario())
