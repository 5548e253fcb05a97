"""What the settings refuse across rules: a webhook endpoint that would share a rule's queue in the
outbox, and a pull rule whose copies an event push rule ships back into the repositories it pulls."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dockyard.config.settings import Settings

TARGETS = [{"name": "upstream", "url": "https://registry.example.org"}, {"name": "dr", "url": "https://dr.example"}]


def pull(repositories: list[str], **keys: Any) -> dict[str, Any]:
    return {"name": "mirror", "direction": "pull", "target": "upstream", "repositories": repositories, **keys}


def push(repositories: list[str], **keys: Any) -> dict[str, Any]:
    rule = {"name": "ship", "direction": "push", "target": "upstream", "trigger": "event"}
    return rule | {"repositories": repositories, **keys}


def settings(*rules: dict[str, Any], **extra: Any) -> Settings:
    return Settings.model_validate({"replication": {"targets": TARGETS, "rules": list(rules)}, **extra})


@pytest.mark.parametrize(
    ("rules", "loop"),
    [
        pytest.param(
            (pull(["team/**"]), push(["team/**"])),
            "mirror pulls team/x from upstream into team/x, and ship pushes that back to upstream as team/x",
            id="the same repositories both ways",
        ),
        pytest.param(
            (pull(["tools/builder"]), push(["tools/*"])),
            "mirror pulls tools/builder from upstream into tools/builder",
            id="a name inside the push's glob",
        ),
        pytest.param(
            (pull(["**"], destination="up/{repository}"), push(["up/team/*"])),
            "mirror pulls team/x from upstream into up/team/x, and ship pushes that back to upstream as up/team/x",
            id="a pull of everything, its copies pushed back under their new names",
        ),
        pytest.param(
            (pull(["team/**"], tags=["v*"]), push(["team/**"], tags=["v1*", "latest"])),
            "mirror pulls team/x from upstream into team/x",
            id="tag globs that meet",
        ),
        pytest.param(
            (pull(["team/**"], semver=">=1.2"), push(["team/**"])),
            "mirror pulls team/x from upstream into team/x",
            id="a push of every tag",
        ),
    ],
)
def test_a_pull_whose_copies_an_event_rule_pushes_back_is_refused(rules: tuple[dict[str, Any], ...], loop: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(*rules)
    [error] = refused.value.errors()
    assert error["loc"] == ("replication",)
    assert "rules 'mirror' and 'ship' form a loop" in error["msg"]
    assert loop in error["msg"]


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param((pull(["team/**"], destination="mirror/{repository}"), push(["team/**"])), id="pulled elsewhere"),
        pytest.param((pull(["team/**"]), push(["team/**"], destination="backup/{repository}")), id="pushed elsewhere"),
        pytest.param((pull(["team/**"]), push(["team/**"], target="dr")), id="to another registry"),
        pytest.param(
            (pull(["team/**"]), push(["team/**"], trigger="schedule", schedule="0 * * * *")),
            id="a scheduled push finds the pulled copies up to date",
        ),
        pytest.param((pull(["team/**"]), push(["other/**"])), id="other repositories"),
        pytest.param((pull(["team/**"], tags=["v*"]), push(["team/**"], tags=["dev-*"])), id="other tags"),
        pytest.param(
            (pull(["team/**"], semver=">=1.2 <2"), push(["team/**"], tags_regex="dev-.*")),
            id="tags filtered by a range and an expression, taken to differ",
        ),
    ],
)
def test_rules_that_do_not_loop_are_accepted(rules: tuple[dict[str, Any], ...]) -> None:
    assert len(settings(*rules).replication.rules) == 2


def test_a_webhook_endpoint_on_a_rules_outbox_queue_is_refused() -> None:
    endpoint = {"url": "https://hooks.example/registry", "name": "replication:ship"}
    with pytest.raises(ValidationError) as refused:
        settings(push(["team/**"]), notifications={"endpoints": [endpoint]})
    [error] = refused.value.errors()
    assert error["loc"] == ("replication",)
    assert "endpoint 'replication:ship' takes the outbox queue of replication rule 'ship'" in error["msg"]
    endpoint["name"] = "replication:other"
    assert settings(push(["team/**"]), notifications={"endpoints": [endpoint]}).notifications.endpoints
