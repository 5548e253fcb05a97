"""Several dockyard instances share one metadata store and one blob store with no sticky sessions:
any request may land on any instance, and every instance answers as one registry would."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable

import httpx
import pytest
from tests.http.ocitest import OCI_MANIFEST, RegistryClient, assert_error, digest_of
from tests.meta.conftest import Instances
from tests.support.backends import every_backend
from tests.support.server import DockyardServer
from tests.system.test_concurrency import annotated_variants, run_together
from tests.system.test_crash import StalledBody, crash, in_background

pytestmark = [pytest.mark.slow, every_backend]
REPO = "instances/shared"


def eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for a state other instances learn of asynchronously (a correctness check with a
    generous bound, not a measurement: bench/ measures how soon)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_round_robin_pushes_and_pulls_with_every_chunk_on_another_instance(instances: Instances) -> None:
    servers = instances(3)
    clients = [RegistryClient(server.url) for server in servers]
    turn = itertools.cycle(clients)
    for number in range(6):
        layer = os.urandom(250_000 + number)
        location = next(turn).open_session(REPO)
        for start in range(0, len(layer), 50_000):
            chunk = layer[start : start + 50_000]
            response = next(turn).patch(location, chunk, f"{start}-{start + len(chunk) - 1}", len(chunk))
            assert response.status_code == 202, response.text
            location = response.headers["location"]
        assert next(turn).finish(location, digest_of(layer)).status_code == 201
        config = json.dumps({"n": number}).encode()
        assert next(turn).push_blob_monolithic(REPO, config).status_code == 201
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": digest_of(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": digest_of(layer), "size": len(layer)}],
            }
        ).encode()  # fmt: skip
        assert next(turn).put_manifest(REPO, f"v{number}", manifest).status_code == 201
        for client in clients:  # a push acknowledged by one instance is there on every other
            assert client.get_manifest(REPO, f"v{number}").content == manifest
            assert client.get_blob(REPO, digest_of(layer)).content == layer
    for client in clients:
        assert client.tags(REPO).json()["tags"] == [f"v{number}" for number in range(6)]


def test_a_tag_moved_on_one_instance_is_seen_by_the_others(instances: Instances) -> None:
    mover, *readers = instances(3)
    with RegistryClient(mover.url) as client:
        base = client.push_image(REPO, "moving")
    previous = base.body
    reader_clients = [RegistryClient(server.url) for server in readers]
    for body in annotated_variants(base.body, 10):
        for reader in reader_clients:  # each reader has the old answer cached
            assert reader.get_manifest(REPO, "moving").content == previous
        with RegistryClient(mover.url) as client:
            assert client.put_manifest(REPO, "moving", body).status_code == 201
        for reader in reader_clients:

            def moved(reader: RegistryClient = reader, body: bytes = body, previous: bytes = previous) -> bool:
                served = reader.get_manifest(REPO, "moving").content
                assert served in (previous, body), "a reader served neither the old nor the new manifest"
                return served == body

            eventually(moved, "the moved tag reached another instance")
        previous = body
    with RegistryClient(mover.url) as client:
        assert client.delete(f"/v2/{REPO}/manifests/{digest_of(previous)}").status_code == 202
    for reader in reader_clients:
        eventually(lambda reader=reader: reader.get_manifest(REPO, "moving").status_code == 404, "the delete")


def test_racing_pushes_to_one_tag_from_two_instances(instances: Instances) -> None:
    servers = instances(2)
    with RegistryClient(servers[0].url) as client:
        base = client.push_image(REPO, "base")
    bodies = annotated_variants(base.body, 16)

    def push(index: int) -> httpx.Response:
        with RegistryClient(servers[index % 2].url) as client:
            return client.put_manifest(REPO, "contended", bodies[index])

    for response in run_together(len(bodies), push):
        assert response.status_code == 201, response.text
    winners = set()
    for server in servers:
        with RegistryClient(server.url) as client:
            eventually(lambda client=client: client.get_manifest(REPO, "contended").content in bodies, "a winner")
            winners.add(client.get_manifest(REPO, "contended").content)
            for body in bodies:
                assert client.get_manifest(REPO, digest_of(body)).content == body
            assert client.tags(REPO).json()["tags"] == ["base", "contended"]
    assert len(winners) == 1


def purged_count(server: DockyardServer) -> float:
    text = httpx.get(server.url + "/metrics").text
    return sum(float(value) for value in re.findall(r"^dockyard_uploads_purged_total(?:\{[^}]*\})? (\S+)$", text, re.M))


def test_every_instance_purges_and_no_session_is_purged_twice(instances: Instances) -> None:
    servers = instances(3, DOCKYARD_UPLOADS__STALE_AFTER_SECONDS="2")
    abandoned = []
    for number in range(30):
        with RegistryClient(servers[number % 3].url) as client:
            location = client.open_session(REPO)
            assert client.patch(location, os.urandom(1000)).status_code == 202
            abandoned.append(location)
    with RegistryClient(servers[0].url) as client:
        eventually(
            lambda: all(client.upload_status(location).status_code == 404 for location in abandoned),
            "every abandoned session purged",
            timeout=60,
        )
        assert_error(client.upload_status(abandoned[0]), 404, "BLOB_UPLOAD_UNKNOWN")
    assert sum(purged_count(server) for server in servers) == len(abandoned)


def test_an_instance_killed_mid_push_leaves_nothing_half_visible(instances: Instances) -> None:
    victim, survivor, reader = instances(3)
    with RegistryClient(survivor.url) as client:
        base = client.push_image(REPO, "base")
    body = annotated_variants(base.body, 1)[0]
    stalled = StalledBody(body[: len(body) // 2], body[len(body) // 2 :])
    headers = {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))}
    thread, _ = in_background(
        lambda: httpx.put(f"{victim.url}/v2/{REPO}/manifests/retried", content=stalled, headers=headers)
    )
    crash(victim, [stalled], [thread])
    with RegistryClient(reader.url) as client:
        assert_error(client.get_manifest(REPO, "retried"), 404, "MANIFEST_UNKNOWN")
    with RegistryClient(survivor.url) as client:  # the client retries elsewhere
        assert client.put_manifest(REPO, "retried", body).status_code == 201
    with RegistryClient(reader.url) as client:
        eventually(lambda: client.get_manifest(REPO, "retried").content == body, "the retried push")
        assert client.get_manifest(REPO, "base").content == base.body
