"""Event rules: pushes, tag moves and deletes replicated as they happen, from the persistent outbox;
nothing lost when the replicating dockyard is killed with events pending for a target that is down."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.remote.conftest import TokenDockyard
from tests.remote.support import Distribution
from tests.replication.conftest import target
from tests.replication.support import image, inventory, push_images, replicating_server
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
    tmp_path: Path, distribution: Distribution, token_dockyard: TokenDockyard
) -> None:
    token = token_dockyard.settings("admin")
    assert token.password is not None
    dist = RemoteSettings(distribution.url)
    event_rule = {"direction": "push", "trigger": "event", "delete": True}
    replication = {
        "targets": [target("dist", distribution.url), target("dr", token.url, "admin", token.password.reveal())],
        "rules": [
            {**event_rule, "name": "to-dr", "target": "dr", "repositories": ["team/*"], "tags": ["v*", "latest"]},
            {
                **event_rule,
                "name": "to-dist",
                "target": "dist",
                "repositories": ["team/*"],
                "destination": "ev/{repository}",
            },
        ],
    }
    source = replicating_server(tmp_path, replication).start()
    local = RemoteSettings(source.url)
    try:
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

        assert httpx.delete(f"{source.url}/v2/team/app/manifests/nightly").status_code == 202
        assert httpx.delete(f"{source.url}/v2/team/app/manifests/{first.digest}").status_code == 202
        remaining = {"v1": str(second.digest)}
        assert inventory(local, "team/app") == remaining
        settle(token, "team/app", remaining)
        # Distribution cannot untag: the manifest behind `nightly` is still tagged v1 here, so it stays
        settle(dist, "ev/team/app", {"v1": str(second.digest), "nightly": str(second.digest)})
        assert metric(source.url, "dockyard_replication_manifests_total", rule="to-dr") >= 2
    finally:
        source.stop()


def test_events_pending_for_a_target_that_is_down_survive_a_kill(tmp_path: Path, distribution: Distribution) -> None:
    with FaultProxy(distribution.url) as proxy:
        proxy.down()
        replication = {
            "targets": [target("dist", proxy.url)],
            "rules": [
                {
                    "name": "survivor",
                    "direction": "push",
                    "trigger": "event",
                    "target": "dist",
                    "repositories": ["kill/**"],
                }
            ],
        }
        source = replicating_server(tmp_path, replication).start()
        local = RemoteSettings(source.url)
        try:
            images = [image(f"killed-{n}") for n in range(4)]
            push_images(local, "kill/app", *((item, f"t{n}") for n, item in enumerate(images)))
            wait_until(
                lambda: metric(source.url, "dockyard_replication_errors_total", rule="survivor") > 0,
                DEADLINE,
                "the rule never tried the target that is down",
            )
            source.kill()
            proxy.up()
            source.start()
            settle(RemoteSettings(distribution.url), "kill/app", inventory(local, "kill/app"))
            assert len(inventory(local, "kill/app")) == 4
        finally:
            source.stop()
