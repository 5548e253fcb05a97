"""The crash test in power-loss mode: tests/system/test_crash.py kills the server; here the power goes
with it, taking whatever the server had not made durable.

The data directory is on the power-loss filesystem (dockyard creates it). Each round starts the
server on what the disk kept, checks every acknowledged object (tests/powerloss/ledger.py) and
`dockyard fsck`, then lets workers push blobs (monolithic and chunked, some sessions left open to
be resumed later), push manifests, move and delete tags and delete manifests, until a random
number of operations were acknowledged; then the server is killed, the power cut (some cuts tear
files: unsynced pages kept or lost at random) and the disk mounted again. The seed is printed;
DOCKYARD_POWERLOSS_SEED=<seed> repeats a run's choices (the moments depend on timing too).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, RegistryClient, descriptor, digest_of, image_manifest
from tests.powerloss.ledger import ABSENT, Ledger, Session
from tests.support.backends import metadata_rows, stored_uploads
from tests.support.powercut import PowerCutDir
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

ROUNDS = 3
WORKERS = 3
TAGS = 3  # per worker
KIB = 1024
HELD_BACK_AFTER = 3072 * KIB  # sent of the stalled PATCH before it waits


class Worker(threading.Thread):
    """One client pushing, moving and deleting in its own repository until the server is gone."""

    def __init__(self, number: int, url: str, ledger: Ledger, seed: int, killed: threading.Event):
        super().__init__(name=f"worker-{number}", daemon=True)
        self.repo = f"powerloss/w{number}"
        self.url, self.ledger, self.killed = url, ledger, killed
        self.rng = random.Random(seed)
        self.acknowledged = 0
        self.stall = threading.Event()  # set: the next operation is a PATCH that stops half way
        self.stalled: Session | None = None  # that PATCH's session, once half of it is sent
        self.failure: str | None = None
        self._made = 0

    def run(self) -> None:
        operations = [self.push_blob, self.chunked_upload, self.push_image, self.move_tag, self.delete]
        weights = [2, 3, 3, 2, 1]
        try:
            with RegistryClient(self.url, timeout=30) as client:
                while True:
                    if self.stall.is_set():
                        self.stalled_patch(client)
                    else:
                        self.rng.choices(operations, weights)[0](client)
                    self.acknowledged += 1
        except httpx.TransportError as error:
            if not self.killed.is_set():
                self.failure = f"{self.name}: {error!r} while the server was up"
        except AssertionError as error:
            self.failure = f"{self.name}: {error}"

    def content(self, low: int, high: int) -> bytes:
        self._made += 1
        return f"{self.repo} {self._made} ".encode() + self.rng.randbytes(self.rng.randint(low, high))

    def push_blob(self, client: RegistryClient, data: bytes | None = None) -> str:
        data = data if data is not None else self.content(KIB, 768 * KIB)
        digest = self.ledger.begin_blob(self.repo, data)
        response = client.push_blob_monolithic(self.repo, data)
        assert response.status_code == 201, f"monolithic push: {response.status_code} {response.text}"
        self.ledger.ack_blob(digest, data)
        return digest

    def chunked_upload(self, client: RegistryClient) -> None:
        data = self.content(64 * KIB, 1536 * KIB)
        location = client.open_session(self.repo)
        session = Session(self.repo, location, data)
        with self.ledger.lock:
            self.ledger.sessions.append(session)
        self.ledger.begin_blob(self.repo, data)
        chunks = self.rng.randint(1, 4)
        left_open = self.rng.random() < 0.3  # resumed after the next cut
        while session.acknowledged < len(data) and not (left_open and chunks == 0):
            end = min(len(data), session.acknowledged + self.rng.randint(16 * KIB, 512 * KIB))
            session.sent = end
            chunk = data[session.acknowledged : end]
            response = client.patch(session.location, chunk, f"{session.acknowledged}-{end - 1}", len(chunk))
            assert response.status_code == 202, f"PATCH: {response.status_code} {response.text}"
            session.location, session.acknowledged = response.headers["location"], end
            chunks -= 1
        if left_open:
            return
        session.finishing = True
        response = client.finish(session.location, session.digest)
        assert response.status_code == 201, f"completing PUT: {response.status_code} {response.text}"
        with self.ledger.lock:
            self.ledger.sessions.remove(session)
        self.ledger.ack_blob(session.digest, data)

    def stalled_patch(self, client: RegistryClient) -> None:
        """A session with one chunk acknowledged, then a PATCH that sends 3 MiB of the next (more than
        the 2 MiB the server gathers before a write) and waits for the power to go: the server has
        written bytes it never synced, the stuff of torn files."""
        data = self.content(4096 * KIB, 5120 * KIB)
        session = Session(self.repo, client.open_session(self.repo), data)
        with self.ledger.lock:
            self.ledger.sessions.append(session)
        self.ledger.begin_blob(self.repo, data)
        first = client.patch(session.location, data[: 256 * KIB], f"0-{256 * KIB - 1}", 256 * KIB)
        assert first.status_code == 202, f"PATCH: {first.status_code} {first.text}"
        session.location, session.acknowledged, session.sent = first.headers["location"], 256 * KIB, len(data)

        def body() -> Iterator[bytes]:
            for start in range(session.acknowledged, session.acknowledged + HELD_BACK_AFTER, 64 * KIB):
                yield data[start : start + 64 * KIB]
            self.stalled = session
            self.killed.wait(60)
            yield data[session.acknowledged + HELD_BACK_AFTER :]

        rest = f"{session.acknowledged}-{len(data) - 1}"
        response = client.patch(session.location, body(), rest, len(data) - session.acknowledged)
        raise AssertionError(f"a PATCH held back until the power went was answered {response.status_code}")

    def push_image(self, client: RegistryClient) -> None:
        config = self.push_blob(client, b'{"architecture":"amd64","os":"linux","n":"%d"}' % self.rng.getrandbits(64))
        layer = self.content(KIB, 256 * KIB)
        self.push_blob(client, layer)
        body = image_manifest(
            {"mediaType": OCI_CONFIG, "digest": config, "size": len(self.ledger.blobs[config])},
            [descriptor(layer, OCI_LAYER)],
        )
        tag = f"t{self.rng.randrange(TAGS)}"
        digest = digest_of(body)
        self.ledger.begin_manifest(self.repo, digest, body, "body")
        self.ledger.begin_tag(self.repo, tag, digest)
        response = client.put_manifest(self.repo, tag, body)
        assert response.status_code == 201, f"manifest PUT: {response.status_code} {response.text}"
        self.ledger.ack_manifest(digest, "body")
        self.ledger.ack_tag(self.repo, tag, digest)

    def move_tag(self, client: RegistryClient) -> None:
        present = self.ledger.present_manifests(self.repo)
        if not present:
            return
        digest, tag = self.rng.choice(present), f"t{self.rng.randrange(TAGS)}"
        self.ledger.begin_tag(self.repo, tag, digest)
        response = client.put_manifest(self.repo, tag, self.ledger.manifests[digest][1])
        assert response.status_code == 201, f"tag move: {response.status_code} {response.text}"
        self.ledger.ack_tag(self.repo, tag, digest)

    def delete(self, client: RegistryClient) -> None:
        if self.rng.random() < 0.5:
            tag = f"t{self.rng.randrange(TAGS)}"
            if self.ledger.tags.get((self.repo, tag), {ABSENT}) == {ABSENT}:
                return
            self.ledger.begin_tag(self.repo, tag, ABSENT)
            response = client.delete(f"/v2/{self.repo}/manifests/{tag}")
            assert response.status_code == 202, f"tag delete: {response.status_code} {response.text}"
            self.ledger.ack_tag(self.repo, tag, ABSENT)
            return
        present = self.ledger.present_manifests(self.repo)
        if not present:
            return
        digest = self.rng.choice(present)
        self.ledger.begin_manifest_delete(digest)
        response = client.delete(f"/v2/{self.repo}/manifests/{digest}")
        assert response.status_code == 202, f"manifest delete: {response.status_code} {response.text}"
        self.ledger.ack_manifest(digest, ABSENT)


def fsck(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard", "fsck", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"fsck after a power cut:\n{result.stdout}{result.stderr}"


def orphan_uploads(data_dir: Path) -> set[str]:
    """Upload files without a session: a session's row is written before its file and deleted after
    it, so none may be left, whatever the cut kept (they would never be purged)."""
    sessions = {upload_id for (upload_id,) in metadata_rows(data_dir, {}, "SELECT id FROM uploads")}
    return stored_uploads(data_dir, {}) - sessions


def start_and_check(data_dir: Path, log: Path, ledger: Ledger) -> DockyardServer:
    server = DockyardServer(data_dir)
    server.log_path = log  # off the mount, so that it outlives the cut
    server.start(timeout=60)
    assert orphan_uploads(data_dir) == set()
    with RegistryClient(server.url) as client:
        ledger.check(client)
    fsck(data_dir)
    return server


def run_until_power_goes(server: DockyardServer, ledger: Ledger, rng: random.Random, mid_patch: bool) -> list[Worker]:
    """Workers at it until a random number of operations were acknowledged (and, with `mid_patch`,
    until the server wrote part of a chunk it will never acknowledge); then the server dies."""
    killed = threading.Event()
    workers = [Worker(n, server.url, ledger, rng.randrange(2**32), killed) for n in range(WORKERS)]
    target = rng.randint(5, 40)

    def done() -> int:
        return sum(worker.acknowledged for worker in workers)

    def failed() -> bool:
        return any(worker.failure for worker in workers)

    try:
        for worker in workers:
            worker.start()
        wait_until(lambda: done() >= target or failed(), 90, lambda: f"{done()} of {target} operations acknowledged")
        if mid_patch and not failed():
            workers[0].stall.set()
            wait_until(
                lambda: failed() or half_written(server.data_dir, workers[0].stalled),
                60,
                "the server never wrote part of the held-back PATCH",
            )
    finally:
        killed.set()
        server.kill()
    return workers


def half_written(data_dir: Path, session: Session | None) -> bool:
    """Whether the server wrote bytes of the session past those acknowledged."""
    if session is None:
        return False
    upload = data_dir / "uploads" / session.location.split("?")[0].rsplit("/", 1)[-1]
    return upload.stat().st_size > session.acknowledged


def test_acknowledged_state_survives_power_cuts(powercut_dir: PowerCutDir, tmp_path: Path) -> None:
    seed = int(os.environ.get("DOCKYARD_POWERLOSS_SEED") or random.randrange(2**32))
    print(f"power-loss seed {seed} (DOCKYARD_POWERLOSS_SEED={seed} repeats its choices)")
    rng = random.Random(seed)
    data_dir = powercut_dir.path / "srv" / "data"
    data_dir.parent.mkdir()
    powercut_dir.sync()
    ledger = Ledger()
    for round_number in range(ROUNDS):
        server = start_and_check(data_dir, tmp_path / f"server-{round_number}.log", ledger)
        mid_patch = rng.random() < 0.5
        workers = run_until_power_goes(server, ledger, rng, mid_patch)
        tear_seed = rng.randrange(2**32) if mid_patch or rng.random() < 0.5 else None
        dropped = powercut_dir.cut(tear_seed=tear_seed)
        print(f"round {round_number}: power cut (mid-PATCH {mid_patch}, tear seed {tear_seed}), dropped {dropped}")
        powercut_dir.mount()
        for worker in workers:
            worker.join(30)
        failures = [worker.failure for worker in workers if worker.failure]
        assert not failures, f"seed {seed}, round {round_number}: {failures}"
    server = start_and_check(data_dir, tmp_path / "server-last.log", ledger)
    server.stop()
    assert ledger.blobs, "nothing was acknowledged"
