"""SIGKILL the server mid-upload and mid-manifest-push; after a restart on the same data directory
every acknowledged blob and manifest is intact, nothing partial is served, and interrupted uploads
are either resumable from what the server reports or cleanly unknown."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.http.ocitest import (
    OCI_MANIFEST,
    Pushed,
    RegistryClient,
    assert_error,
    digest_of,
    seeded_chunks,
    upload_end,
)
from tests.support.backends import every_backend
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
REPO = "crash/test"
MIB = 1 << 20


class StalledBody:
    """A request body that sends `head`, then waits until released (or the connection dies)."""

    def __init__(self, head: bytes, tail: bytes = b""):
        self.head, self.tail = head, tail
        self.sent = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        for offset in range(0, len(self.head), 64 * 1024):
            yield self.head[offset : offset + 64 * 1024]
        self.sent.set()
        self.release.wait(30)
        if self.tail:
            yield self.tail


def in_background(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except httpx.HTTPError as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def crash(server: DockyardServer, bodies: list[StalledBody], threads: list[threading.Thread]) -> None:
    """SIGKILL the server in the middle of each stalled request, once it has read what they sent."""
    for body in bodies:
        assert body.sent.wait(20), "the stalled request never got its head out"
    wait_until(lambda: server.unread_bytes() == 0, 30, lambda: f"the server left {server.unread_bytes()} bytes unread")
    server.kill()
    for body in bodies:
        body.release.set()
    for thread in threads:
        thread.join(30)


def assert_manifest_intact(client: RegistryClient, reference: str, pushed: Pushed) -> None:
    response = client.get_manifest(REPO, reference)
    assert response.status_code == 200, f"{reference}: {response.status_code} {response.text[:200]}"
    assert response.content == pushed.body
    assert response.headers["docker-content-digest"] == pushed.digest


@every_backend
def test_sigkill_mid_upload_keeps_acknowledged_data_and_serves_nothing_partial(
    fresh_server: DockyardServer,
) -> None:
    session_blob = b"".join(seeded_chunks(7, 6 * MIB))
    mono_blob = b"".join(seeded_chunks(8, 4 * MIB))
    acked_prefix = 2 * MIB
    server = fresh_server.start()
    with RegistryClient(server.url) as client:
        acked_blob = b"acknowledged before the crash" * 1000
        acked_digest = client.push_blob(REPO, acked_blob)
        acked_image = client.push_image(REPO, "v1", layers=2)

        location = client.open_session(REPO)
        first = client.patch(location, session_blob[:acked_prefix], f"0-{acked_prefix - 1}", acked_prefix)
        assert first.status_code == 202
        location = first.headers["location"]

        stalled_patch = StalledBody(session_blob[acked_prefix : acked_prefix + MIB], session_blob[acked_prefix + MIB :])
        stalled_mono = StalledBody(mono_blob[: 3 * MIB], mono_blob[3 * MIB :])
        with RegistryClient(server.url) as other, RegistryClient(server.url) as third:
            threads = [
                in_background(
                    lambda: other.http.patch(
                        location,
                        content=stalled_patch,
                        headers={
                            "Content-Range": f"{acked_prefix}-{len(session_blob) - 1}",
                            "Content-Length": str(len(session_blob) - acked_prefix),
                        },
                    )
                )[0],
                in_background(
                    lambda: third.http.post(
                        f"/v2/{REPO}/blobs/uploads/",
                        params={"digest": digest_of(mono_blob)},
                        content=stalled_mono,
                        headers={"Content-Length": str(len(mono_blob))},
                    )
                )[0],
            ]
            crash(server, [stalled_patch, stalled_mono], threads)

    server.start()
    with RegistryClient(server.url) as client:
        blob = client.get_blob(REPO, acked_digest)
        assert blob.status_code == 200
        assert blob.content == acked_blob
        assert_manifest_intact(client, "v1", acked_image)
        assert_manifest_intact(client, acked_image.digest, acked_image)
        for layer in client.get_manifest(REPO, "v1").json()["layers"]:
            served = client.get_blob(REPO, layer["digest"])
            assert digest_of(served.content) == layer["digest"]

        # Neither interrupted blob may be visible, in whole or in part.
        for digest in (digest_of(mono_blob), digest_of(session_blob)):
            assert_error(client.get_blob(REPO, digest), 404, "BLOB_UNKNOWN")
            assert client.head(client.blob_url(REPO, digest)).status_code == 404

        status = client.upload_status(location)
        if status.status_code == 404:
            assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
        else:
            assert status.status_code == 204, status.text
            end = upload_end(status)
            assert acked_prefix - 1 <= end < len(session_blob) - 1, f"reported end {end}"
            rest = client.patch(
                status.headers["location"],
                session_blob[end + 1 :],
                f"{end + 1}-{len(session_blob) - 1}",
                len(session_blob) - end - 1,
            )
            assert rest.status_code == 202, rest.text
            done = client.finish(rest.headers["location"], digest_of(session_blob))
            assert done.status_code == 201, done.text
            served = client.get_blob(REPO, digest_of(session_blob))
            assert hashlib.sha256(served.content).hexdigest() == digest_of(session_blob).split(":")[1]

        # The registry still works: the interrupted monolithic blob can be pushed afresh.
        again = client.push_blob_monolithic(REPO, mono_blob)
        assert again.status_code == 201
        assert client.get_blob(REPO, digest_of(mono_blob)).content == mono_blob


@every_backend
def test_sigkill_mid_manifest_push(fresh_server: DockyardServer) -> None:
    server = fresh_server.start()
    acked: dict[str, Pushed] = {}
    with RegistryClient(server.url) as client:
        base = client.push_image(REPO, "base")
        acked["base"] = base
        config = client.get_manifest(REPO, "base").json()
        # A large manifest (padding in annotations) whose push is cut off half way.
        padded = dict(config, annotations={"pad": "x" * (2 * MIB)})
        body = json.dumps(padded).encode()
        stalled = StalledBody(body[:MIB], body[MIB:])
        stop = threading.Event()
        pushed_in_burst: list[tuple[str, Pushed]] = []
        attempted: list[bytes] = []

        def burst() -> None:
            with RegistryClient(server.url) as pusher:
                number = 0
                while not stop.is_set() and number < 10_000:
                    document = dict(config, annotations={"n": str(number)})
                    candidate = json.dumps(document).encode()
                    attempted.append(candidate)
                    try:
                        response = pusher.put_manifest(REPO, f"burst-{number}", candidate)
                    except httpx.HTTPError:
                        return
                    if response.status_code == 201:
                        pushed_in_burst.append(
                            (f"burst-{number}", Pushed(candidate, OCI_MANIFEST, digest_of(candidate), response))
                        )
                    number += 1

        burster = threading.Thread(target=burst, daemon=True)
        burster.start()
        wait_until(lambda: len(pushed_in_burst) >= 5, 60, "no manifest of the burst was acknowledged")
        with RegistryClient(server.url) as other:
            thread, _ = in_background(
                lambda: other.http.put(
                    f"/v2/{REPO}/manifests/half",
                    content=stalled,
                    headers={"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))},
                )
            )
            crash(server, [stalled], [thread])
        stop.set()
        burster.join(30)

    server.start()
    with RegistryClient(server.url) as client:
        assert_manifest_intact(client, "base", base)
        assert_error(client.get_manifest(REPO, "half"), 404, "MANIFEST_UNKNOWN")
        assert_error(client.get_manifest(REPO, digest_of(body)), 404, "MANIFEST_UNKNOWN")
        for tag, pushed in pushed_in_burst:
            assert_manifest_intact(client, pushed.digest, pushed)
            assert_manifest_intact(client, tag, pushed)
        # Whatever tags exist point at complete manifests whose bytes match their digest.
        tags = client.tags(REPO).json()["tags"]
        known = {digest_of(candidate) for candidate in attempted} | {base.digest}
        for tag in tags:
            response = client.get_manifest(REPO, tag)
            assert response.status_code == 200
            assert digest_of(response.content) == response.headers["docker-content-digest"]
            assert response.headers["docker-content-digest"] in known
        assert client.push_manifest(REPO, "after-restart", base.body).digest == base.digest
