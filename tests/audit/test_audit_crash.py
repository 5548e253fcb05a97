"""A SIGKILL in the middle of a burst of pushes leaves every push and its audit entry both stored or
both missing: the entry is written in the push's transaction."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from tests.audit.conftest import AuditedRegistry
from tests.audit.test_audit_session import client_of
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
REPO = "team/crash"


def test_sigkill_during_pushes_keeps_each_push_with_its_entry(registry_of_its_own: AuditedRegistry) -> None:
    registry = registry_of_its_own
    server = registry.server.start()
    with client_of(registry, "writer") as writer:
        base = writer.push_image(REPO, "base")
    config = json.loads(base.body)
    acknowledged: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        with client_of(registry, "writer") as pusher:
            for number in range(10_000):
                if stop.is_set():
                    return
                tag = f"burst-{number}"
                body = json.dumps(dict(config, annotations={"n": str(number)})).encode()
                try:
                    response = pusher.put_manifest(REPO, tag, body)
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(tag)

    pusher = threading.Thread(target=burst, daemon=True)
    pusher.start()
    wait_until(lambda: len(acknowledged) >= 5, 60, "no push of the burst was acknowledged")
    server.kill()  # at whatever instant the burst is in
    stop.set()
    pusher.join(30)

    server.start()
    with client_of(registry, "writer") as reader:
        stored = {tag for tag in reader.tags(REPO).json()["tags"] if tag.startswith("burst-")}
    audited = {entry["tag"] for entry in registry.audit("--repository", REPO) if entry["action"] == "push"}
    assert set(acknowledged) <= stored
    assert audited - {"base"} == stored
