"""Delivery through outages: a receiver that is down, refuses, hangs, or outlives a restart."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from typing import Any

import pytest
from tests.events.conftest import StartServer, endpoint_config, metric, wait_for_metric
from tests.events.receiver import Receiver
from tests.http.ocitest import OCI_MANIFEST, RegistryClient
from tests.support.backends import every_backend
from tests.support.server import DockyardServer
from tests.support.wait import wait_until


def _manifest_pushes(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["target"]["repository"], e["target"]["tag"])
        for e in events
        if e["action"] == "push" and e["target"].get("mediaType") == OCI_MANIFEST and "tag" in e["target"]
    ]


def _tags_by_repository(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = defaultdict(list)
    for repository, tag in _manifest_pushes(events):
        tags[repository].append(tag)
    return dict(tags)


def _push_tags(server: DockyardServer, repositories: list[str], count: int) -> dict[str, list[str]]:
    """The same image under tags t00, t01, ... in each repository, interleaved."""
    pushed: dict[str, list[str]] = defaultdict(list)
    with RegistryClient(server.url) as client:
        images = {repository: client.push_image(repository, None) for repository in repositories}
        for number in range(count):
            for repository in repositories:
                tag = f"t{number:02d}"
                client.push_manifest(repository, tag, images[repository].body)
                pushed[repository].append(tag)
    return dict(pushed)


@every_backend
def test_receiver_down_for_a_while(start_server: StartServer, receiver: Receiver) -> None:
    """Two worker processes share the outbox: events arrive once each, in order per repository."""
    receiver.stop()
    server = start_server([endpoint_config(receiver, events=["push"], batch_size=7)], workers=2)
    pushed = _push_tags(server, ["events/one", "events/two"], 20)
    wait_until(
        lambda: metric(server, "dockyard_event_deliveries_failed_total") >= 2,
        60,
        "the workers never tried the closed port, and tried again",
    )
    assert metric(server, "dockyard_events_delivered_total") == 0
    receiver.start()

    events = receiver.wait_for(lambda events: len(_manifest_pushes(events)) >= 40)
    assert _tags_by_repository(events) == pushed
    assert len({e["id"] for e in events}) == len(events)  # none twice
    wait_for_metric(server, "dockyard_events_pending", 0)
    assert metric(server, "dockyard_events_dropped_total") == 0


@every_backend
def test_at_most_max_pending_kept(start_server: StartServer, receiver: Receiver) -> None:
    receiver.mode = "fail"
    server = start_server([endpoint_config(receiver, events=["push"], repositories=["events/bound"], max_pending=5)])
    with RegistryClient(server.url) as client:
        pushed = client.push_image("events/bound", None)  # two blob pushes, one manifest push
        for number in range(7):
            client.push_manifest("events/bound", f"t{number}", pushed.body)

    # 10 events for 5 places: the 5 oldest go, counted.
    wait_for_metric(server, "dockyard_events_dropped_total", 5)
    wait_for_metric(server, "dockyard_events_pending", 5)
    receiver.mode = "ok"
    events = receiver.wait_for(lambda events: len(events) >= 5)
    assert [tag for _, tag in _manifest_pushes(events)] == ["t2", "t3", "t4", "t5", "t6"]
    wait_for_metric(server, "dockyard_events_delivered_total", 5)
    assert metric(server, "dockyard_events_failed_total") == 0


def test_events_given_up_after_max_retries(start_server: StartServer, receiver: Receiver) -> None:
    receiver.mode = "fail"
    server = start_server([endpoint_config(receiver, events=["push"], max_retries=2)])
    with RegistryClient(server.url) as client:
        client.push_image("events/refused", "v1")
    wait_for_metric(server, "dockyard_events_failed_total", 3)  # two blobs and the manifest
    wait_for_metric(server, "dockyard_events_pending", 0)
    assert metric(server, "dockyard_event_deliveries_failed_total") >= 3
    receiver.mode = "ok"
    with RegistryClient(server.url) as client:
        client.push_manifest("events/refused", "v2", client.get_manifest("events/refused", "v1").content)
    events = receiver.wait_for(lambda events: len(events) >= 1)
    assert _manifest_pushes(events) == [("events/refused", "v2")]


def test_a_hanging_receiver_holds_up_no_request(start_server: StartServer, receiver: Receiver) -> None:
    """Pushes and pulls (subscribed too, so each GET records an event) are answered while a
    delivery hangs: nothing on a request's path waits for the receiver."""
    receiver.mode = "hang"
    server = start_server([endpoint_config(receiver, timeout=3600)])  # the delivery never times out
    with RegistryClient(server.url) as client:
        pushed = client.push_image("events/hung", "v1")
        wait_until(lambda: receiver.held == 1, 60, "the first delivery never reached the receiver")
        for _ in range(20):
            assert client.get_manifest("events/hung", "v1").content == pushed.body
        for number in range(5):
            client.push_manifest("events/hung", f"t{number}", pushed.body)
    # All answered before the delivery ended: it is still held, neither failed nor delivered.
    assert receiver.held == 1
    assert metric(server, "dockyard_event_deliveries_failed_total") == 0
    assert metric(server, "dockyard_events_delivered_total") == 0
    receiver.mode = "ok"
    receiver.released.set()
    events = receiver.wait_for(lambda events: ("events/hung", "t4") in _manifest_pushes(events))
    assert [tag for _, tag in _manifest_pushes(events)] == ["v1", "t0", "t1", "t2", "t3", "t4"]


def test_a_hanging_delivery_is_given_up_at_its_timeout(start_server: StartServer, receiver: Receiver) -> None:
    receiver.mode = "hang"
    server = start_server([endpoint_config(receiver, events=["push"], timeout=1)])
    with RegistryClient(server.url) as client:
        client.push_image("events/timeout", "v1")
    # The receiver never answers, so only the worker's own timeout can end an attempt.
    wait_until(
        lambda: metric(server, "dockyard_event_deliveries_failed_total") >= 1,
        60,
        "a delivery to the hanging receiver was never abandoned",
    )
    assert metric(server, "dockyard_events_delivered_total") == 0
    receiver.mode = "ok"
    receiver.released.set()
    events = receiver.wait_for(lambda events: ("events/timeout", "v1") in _manifest_pushes(events))
    # The abandoned attempts are recorded too once released: delivery is at least once.
    assert set(_manifest_pushes(events)) == {("events/timeout", "v1")}


@every_backend
def test_delivery_resumes_after_a_restart(start_server: StartServer, receiver: Receiver) -> None:
    receiver.stop()
    endpoint = endpoint_config(receiver, events=["push"])
    server = start_server([endpoint])
    pushed = _push_tags(server, ["events/durable"], 6)
    server.kill()  # a crash: only what the outbox committed survives
    receiver.start()
    restarted = start_server([endpoint])
    events = receiver.wait_for(lambda events: len(_manifest_pushes(events)) >= 6)
    assert _tags_by_repository(events) == pushed
    wait_for_metric(restarted, "dockyard_events_pending", 0)


def test_pull_events_outlive_a_graceful_restart(start_server: StartServer, receiver: Receiver) -> None:
    receiver.stop()
    endpoint = endpoint_config(receiver, events=["pull"])
    server = start_server([endpoint])
    with RegistryClient(server.url) as client:
        client.push_image("events/pulled", "v1")
        for _ in range(20):
            assert client.get_manifest("events/pulled", "v1").status_code == 200
    assert server.stop() == 0
    receiver.start()
    start_server([endpoint])
    events = receiver.wait_for(lambda events: len(events) >= 20)
    assert len(events) == 20
    assert {(e["action"], e["target"]["tag"]) for e in events} == {("pull", "v1")}


@pytest.mark.parametrize("backend", ["pg-fs"])
def test_two_instances_deliver_each_event_once(start_server: StartServer, receiver: Receiver) -> None:
    """Two instances share one PostgreSQL database, each with delivery workers competing for the
    endpoint: every event of both arrives once, in the order stored."""
    receiver.stop()
    endpoint = endpoint_config(receiver, events=["push"], batch_size=3)
    first, second = start_server([endpoint], instance="one"), start_server([endpoint], instance="two")
    pushed: dict[str, list[str]] = defaultdict(list)
    with RegistryClient(first.url) as one, RegistryClient(second.url) as two:
        body = one.push_image("events/shared", None).body
        for number in range(15):
            for client in (one, two):
                tag = f"t{number:02d}-{'one' if client is one else 'two'}"
                client.push_manifest("events/shared", tag, body)
                pushed["events/shared"].append(tag)
    receiver.start()
    events = receiver.wait_for(lambda events: len(_manifest_pushes(events)) >= 30)
    assert _tags_by_repository(events) == pushed
    assert len({e["id"] for e in events}) == len(events)
    assert {e["source"]["addr"].rpartition(":")[2] for e in events} == {str(first.port), str(second.port)}


def _read_only(server: DockyardServer, state: str) -> None:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_")}
    command = [sys.executable, "-m", "dockyard", "admin", "read-only", state, "--data-dir", str(server.data_dir)]
    subprocess.run(command, check=True, capture_output=True, env=clean, timeout=60)


def _add_due_event(server: DockyardServer, tag: str) -> None:
    """Behind the server's back: a copy of the newest stored event under another tag, and the
    endpoint's backoff cleared, so that a worker that is not paused sends it at its next turn."""
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        endpoint, repository, payload = db.execute(
            "SELECT endpoint, repository, payload FROM event_outbox ORDER BY id DESC LIMIT 1"
        ).fetchone()
        event = json.loads(payload)
        event["target"]["tag"] = tag
        db.execute(
            "INSERT INTO event_outbox (endpoint, repository, payload, created_at) VALUES (?, ?, ?, 0)",
            (endpoint, repository, json.dumps(event)),
        )
        db.execute("UPDATE event_endpoints SET retry_at = 0")


def test_read_only_mode_pauses_delivery(start_server: StartServer, receiver: Receiver) -> None:
    receiver.stop()
    server = start_server([endpoint_config(receiver, events=["push"])])
    pushed = _push_tags(server, ["events/paused"], 3)
    _read_only(server, "on")
    with RegistryClient(server.url) as client:  # the process (and so its worker) sees the switch
        wait_until(lambda: client.start_upload("events/paused").status_code == 405, 30, "writes were never refused")
    receiver.start()
    # The worker counts the outbox at the end of a turn. It counts the second marker in a later turn
    # than the first, so that turn began with an event due and the receiver up: a worker that did
    # not pause would have sent it, and counted fewer.
    for pending, marker in [(7, "marker-1"), (8, "marker-2")]:  # the image (3 events), 3 tags, the markers
        _add_due_event(server, marker)
        wait_for_metric(server, "dockyard_events_pending", pending)
    assert receiver.events() == []
    _read_only(server, "off")
    events = receiver.wait_for(lambda events: len(_manifest_pushes(events)) >= 5)
    assert _tags_by_repository(events) == {"events/paused": [*pushed["events/paused"], "marker-1", "marker-2"]}


def test_no_outbox_rows_without_a_subscriber(start_server: StartServer, receiver: Receiver) -> None:
    server = start_server([endpoint_config(receiver, events=["delete"], repositories=["elsewhere/*"])])
    with RegistryClient(server.url) as client:
        client.push_image("events/quiet", "v1")
        client.get_manifest("events/quiet", "v1")
        client.delete("/v2/events/quiet/manifests/v1")
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone() == (0,)
    assert receiver.events() == []


def test_pulls_from_many_clients_all_arrive(start_server: StartServer, receiver: Receiver) -> None:
    server = start_server([endpoint_config(receiver, events=["pull"])])
    with RegistryClient(server.url) as client:
        client.push_image("events/popular", "v1")

    def pull(times: int) -> None:
        with RegistryClient(server.url) as client:
            for _ in range(times):
                assert client.get_manifest("events/popular", "v1").status_code == 200

    threads = [threading.Thread(target=pull, args=(50,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = receiver.wait_for(lambda events: len(events) >= 200)
    assert len(events) == 200
    assert {e["action"] for e in events} == {"pull"}
