"""Several dockyard instances share one metadata store and one blob store with no sticky sessions:
any request may land on any instance, and every instance answers as one registry would. Each test
runs on every backend (tests/support/backends.py); PostgreSQL + S3 is the scale-out one."""

from __future__ import annotations

import itertools
import json
import os

import httpx
import pytest
from tests.http.ocitest import OCI_MANIFEST, RegistryClient, assert_error, digest_of, seeded_chunks, upload_end
from tests.meta.conftest import Instances
from tests.support.backends import every_backend
from tests.support.metrics import metric
from tests.support.wait import wait_until
from tests.system.test_concurrency import annotated_variants, run_together
from tests.system.test_crash import StalledBody, crash, in_background

pytestmark = [pytest.mark.slow, every_backend]
REPO = "instances/shared"
LAYER = "application/vnd.oci.image.layer.v1.tar"
MIB = 1 << 20
# How long other instances may take to learn of a change: a generous bound on a correctness
# check, not a measurement (bench/ measures how soon).
CONVERGED_SECONDS = 15


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
                "layers": [{"mediaType": LAYER,
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

            wait_until(moved, CONVERGED_SECONDS, "the moved tag never reached another instance", 0.01)
        previous = body
    with RegistryClient(mover.url) as client:
        assert client.delete(f"/v2/{REPO}/manifests/{digest_of(previous)}").status_code == 202
    for reader in reader_clients:
        wait_until(
            lambda reader=reader: reader.get_manifest(REPO, "moving").status_code == 404,
            CONVERGED_SECONDS,
            "an instance still serves the deleted manifest",
            0.01,
        )


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
            wait_until(
                lambda client=client: client.get_manifest(REPO, "contended").content in bodies,
                CONVERGED_SECONDS,
                "the contended tag names none of the pushed manifests",
                0.01,
            )
            winners.add(client.get_manifest(REPO, "contended").content)
            for body in bodies:
                assert client.get_manifest(REPO, digest_of(body)).content == body
            assert client.tags(REPO).json()["tags"] == ["base", "contended"]
    assert len(winners) == 1


def test_every_instance_purges_and_no_session_is_purged_twice(instances: Instances) -> None:
    servers = instances(3, DOCKYARD_UPLOADS__STALE_AFTER_SECONDS="2")
    abandoned = []
    for number in range(30):
        with RegistryClient(servers[number % 3].url) as client:
            location = client.open_session(REPO)
            assert client.patch(location, os.urandom(1000)).status_code == 202
            abandoned.append(location)
    with RegistryClient(servers[0].url) as client:
        wait_until(
            lambda: all(client.upload_status(location).status_code == 404 for location in abandoned),
            60,
            "an abandoned session was never purged",
        )
        assert_error(client.upload_status(abandoned[0]), 404, "BLOB_UPLOAD_UNKNOWN")
    assert sum(metric(server.url, "dockyard_uploads_purged_total") for server in servers) == len(abandoned)


def resume_upload(client: RegistryClient, location: str, data: bytes, acknowledged: int) -> httpx.Response:
    """Finish an upload whose instance died, from another one: from where the registry says it
    stands (never short of what it acknowledged), or afresh if it forgot the session."""
    status = client.upload_status(location)
    if status.status_code == 404:
        assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
        location, end = client.open_session(REPO), -1
    else:
        assert status.status_code == 204, status.text
        location, end = status.headers["location"], upload_end(status)
        assert acknowledged - 1 <= end < len(data) - 1, f"reported end {end}"
    rest = client.patch(location, data[end + 1 :], f"{end + 1}-{len(data) - 1}", len(data) - end - 1)
    assert rest.status_code == 202, rest.text
    return client.finish(rest.headers["location"], digest_of(data))


def test_an_instance_killed_mid_push_leaves_nothing_half_visible(instances: Instances) -> None:
    """The victim dies with a layer's second chunk and the manifest half received; the client
    carries the same upload on at another instance, then pushes the manifest there."""
    victim, survivor, reader = instances(3)
    with RegistryClient(survivor.url) as client:
        base = client.push_image(REPO, "base")
    layer = b"".join(seeded_chunks(21, 3 * MIB))
    document = json.loads(base.body)
    document["layers"].append({"mediaType": LAYER, "digest": digest_of(layer), "size": len(layer)})
    body = json.dumps(document).encode()
    with RegistryClient(victim.url) as client:
        first = client.patch(client.open_session(REPO), layer[:MIB], f"0-{MIB - 1}", MIB)
        assert first.status_code == 202, first.text
    location = first.headers["location"]
    chunk = StalledBody(layer[MIB : 2 * MIB], layer[2 * MIB :])
    manifest = StalledBody(body[: len(body) // 2], body[len(body) // 2 :])
    chunk_headers = {"Content-Range": f"{MIB}-{len(layer) - 1}", "Content-Length": str(len(layer) - MIB)}
    manifest_headers = {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))}
    threads = [
        in_background(lambda: httpx.patch(f"{victim.url}{location}", content=chunk, headers=chunk_headers))[0],
        in_background(
            lambda: httpx.put(f"{victim.url}/v2/{REPO}/manifests/retried", content=manifest, headers=manifest_headers)
        )[0],
    ]
    crash(victim, [chunk, manifest], threads)
    with RegistryClient(reader.url) as client:
        assert_error(client.get_manifest(REPO, "retried"), 404, "MANIFEST_UNKNOWN")
        assert_error(client.get_blob(REPO, digest_of(layer)), 404, "BLOB_UNKNOWN")
    with RegistryClient(survivor.url) as client:  # the client retries elsewhere
        done = resume_upload(client, location, layer, MIB)
        assert done.status_code == 201, done.text
        assert client.put_manifest(REPO, "retried", body).status_code == 201
    with RegistryClient(reader.url) as client:
        wait_until(
            lambda: client.get_manifest(REPO, "retried").content == body,
            CONVERGED_SECONDS,
            "the retried push is not served",
            0.01,
        )
        assert client.get_blob(REPO, digest_of(layer)).content == layer
        assert client.get_manifest(REPO, "base").content == base.body
