"""Many clients pushing the same blob, and racing pushes to one tag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from tests.conftest import Registry
from tests.http.ocitest import OCI_MANIFEST, RegistryClient, digest_of, seeded_chunks

CLIENTS = 16
MIB = 1 << 20


def upload_styles(data: bytes) -> list[Callable[[RegistryClient, str], httpx.Response]]:
    digest = digest_of(data)
    half = len(data) // 2

    def monolithic(client: RegistryClient, repo: str) -> httpx.Response:
        return client.push_blob_monolithic(repo, data)

    def post_put(client: RegistryClient, repo: str) -> httpx.Response:
        return client.finish(client.open_session(repo), digest, data)

    def patch_then_empty_put(client: RegistryClient, repo: str) -> httpx.Response:
        patched = client.patch(client.open_session(repo), data)
        return client.finish(patched.headers["location"], digest)

    def ranged_chunks(client: RegistryClient, repo: str) -> httpx.Response:
        first = client.patch(client.open_session(repo), data[:half], f"0-{half - 1}", half)
        second = client.patch(first.headers["location"], data[half:], f"{half}-{len(data) - 1}", len(data) - half)
        return client.finish(second.headers["location"], digest)

    return [monolithic, post_put, patch_then_empty_put, ranged_chunks]


def annotated_variants(manifest: bytes, count: int) -> list[bytes]:
    """Distinct manifests with the same references: the given one with an annotation added."""
    template = manifest.decode()
    return [
        template.replace('"schemaVersion": 2', f'"schemaVersion": 2, "annotations": {{"n": "{n}"}}', 1).encode()
        for n in range(count)
    ]


def run_together(count: int, work: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(count)

    def start(index: int) -> httpx.Response:
        barrier.wait(30)
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start, range(count)))


def test_same_blob_from_many_clients_at_once(registry: Registry) -> None:
    repo = "concurrency/same-blob"
    data = b"".join(seeded_chunks(11, 3 * MIB + 12345))
    digest = digest_of(data)
    styles = upload_styles(data)

    def push(index: int) -> httpx.Response:
        target = repo if index % 2 == 0 else f"{repo}-{index}"
        with RegistryClient(registry.url) as client:
            return styles[index % len(styles)](client, target)

    responses = run_together(CLIENTS, push)
    for response in responses:
        assert response.status_code == 201, f"{response.request.method} {response.status_code} {response.text}"
        assert response.headers["docker-content-digest"] == digest
    with RegistryClient(registry.url) as client:
        for index in range(CLIENTS):
            target = repo if index % 2 == 0 else f"{repo}-{index}"
            served = client.get_blob(target, digest)
            assert served.status_code == 200
            assert digest_of(served.content) == digest
            assert len(served.content) == len(data)


def test_racing_pushes_to_one_tag_leave_one_complete_manifest(registry: Registry) -> None:
    repo = "concurrency/one-tag"
    with RegistryClient(registry.url) as client:
        base = client.push_image(repo, "base")
    bodies = annotated_variants(base.body, CLIENTS)
    assert len({digest_of(body) for body in bodies}) == CLIENTS

    def push(index: int) -> httpx.Response:
        with RegistryClient(registry.url) as client:
            return client.put_manifest(repo, "contended", bodies[index])

    for response in run_together(CLIENTS, push):
        assert response.status_code == 201, response.text
    with RegistryClient(registry.url) as client:
        served = client.get_manifest(repo, "contended")
        assert served.status_code == 200
        assert served.content in bodies
        assert served.headers["docker-content-digest"] == digest_of(served.content)
        assert served.headers["content-type"] == OCI_MANIFEST
        for body in bodies:
            by_digest = client.get_manifest(repo, digest_of(body))
            assert by_digest.status_code == 200
            assert by_digest.content == body
        assert client.tags(repo).json()["tags"] == ["base", "contended"]


def test_parallel_uploads_of_different_blobs_do_not_mix(registry: Registry) -> None:
    repo = "concurrency/many-blobs"
    blobs = [b"".join(seeded_chunks(100 + n, MIB + n * 997)) for n in range(CLIENTS)]

    def push(index: int) -> httpx.Response:
        with RegistryClient(registry.url) as client:
            location = client.open_session(repo)
            data = blobs[index]
            for start in range(0, len(data), 256 * 1024):
                chunk = data[start : start + 256 * 1024]
                response = client.patch(location, chunk, f"{start}-{start + len(chunk) - 1}", len(chunk))
                assert response.status_code == 202, response.text
                location = response.headers["location"]
            return client.finish(location, digest_of(data))

    for response in run_together(CLIENTS, push):
        assert response.status_code == 201, response.text
    with RegistryClient(registry.url) as client:
        for data in blobs:
            assert client.get_blob(repo, digest_of(data)).content == data


def test_deletes_racing_pushes_leave_every_tag_resolvable(registry: Registry) -> None:
    """Pushers re-tag and deleters untag or delete manifests at once; afterwards every listed tag
    points at a manifest that is served byte-exact, and nothing answered with a 5xx."""
    repo = "concurrency/delete-race"
    with RegistryClient(registry.url) as client:
        base = client.push_image(repo, "base")
    bodies = annotated_variants(base.body, 8)

    def work(index: int) -> httpx.Response:
        with RegistryClient(registry.url) as client:
            body = bodies[index % len(bodies)]
            last = client.put_manifest(repo, f"tag{index % 4}", body)
            for round_number in range(6):
                if index % 2:
                    last = client.delete(f"/v2/{repo}/manifests/{digest_of(bodies[(index + round_number) % 8])}")
                else:
                    last = client.delete(f"/v2/{repo}/manifests/tag{(index + round_number) % 4}")
                assert last.status_code in (202, 404), last.text
                last = client.put_manifest(repo, f"tag{(index + round_number) % 4}", body)
                assert last.status_code == 201, last.text
            return last

    for response in run_together(CLIENTS, work):
        assert response.status_code == 201
    with RegistryClient(registry.url) as client:
        tags = client.tags(repo).json()["tags"]
        assert "base" in tags
        for tag in tags:
            served = client.get_manifest(repo, tag)
            assert served.status_code == 200, f"{tag}: {served.text}"
            assert served.content in [*bodies, base.body]
            assert served.headers["docker-content-digest"] == digest_of(served.content)
