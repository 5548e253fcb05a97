"""Garbage collection racing real clients on a real server, and surviving SIGKILL mid-deletion.

Clients push images that share layers, move and delete tags, delete manifests and push
referrers, while the server's workers review everything within a second and `dockyard gc
--now` runs again and again. Afterwards every tag pulls completely with verified digests,
referrers of live manifests are listed, and after a final `gc --now` the blob store holds
exactly the blobs something tagged reaches.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.gc.conftest import FAST_GC, run_gc, stored_blobs
from tests.gc.racing import SHARED_LAYERS, Audit, Ledger, Pusher, audit
from tests.http.ocitest import RegistryClient
from tests.support.backends import every_backend, metadata_rows
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

REPOSITORIES = ["race/a", "race/b", "race/c"]
TAGS = ["t0", "t1", "t2"]
CLIENTS = 4
ROUNDS = 50
GARBAGE = 500
SHORT_LEASE = {"DOCKYARD_GC__DELETION_LEASE_SECONDS": "1"}


def _pinned(pusher: Pusher, number: int) -> tuple[str, str, str]:
    """A tagged image with a signature and a signature of the signature, never touched again."""
    image = pusher.image("race/pinned", f"pinned-{number}", f"pinned {number}", SHARED_LAYERS[:2])
    signature = pusher.image("race/pinned", None, f"signature {number}", SHARED_LAYERS[2:3], subject=image)
    countersignature = pusher.image("race/pinned", None, f"counter {number}", SHARED_LAYERS[3:4], subject=signature)
    return image, signature, countersignature


def _churn(url: str, ledger: Ledger, number: int) -> tuple[str, str, str]:
    rng = random.Random(number)
    with RegistryClient(url) as client:
        pusher = Pusher(client, ledger)
        pinned = _pinned(pusher, number)
        for round_number in range(ROUNDS):
            repository = rng.choice(REPOSITORIES)
            tag = rng.choice(TAGS)
            seed = f"{number}-{round_number}"
            known = ledger.digests_in(repository)
            action = rng.choice(["image", "image", "index", "referrer", "untag", "delete"])
            if action == "image":
                layers = [*rng.sample(SHARED_LAYERS, rng.randint(1, 2)), f"own layer {seed}".encode()]
                pusher.image(repository, tag, seed, layers)
            elif action == "index":
                pusher.index(repository, tag, seed, rng)
            elif action == "referrer" and known:
                pusher.image(repository, None, seed, [rng.choice(SHARED_LAYERS)], subject=rng.choice(known))
            elif action == "untag":
                ledger.check(client.delete(f"/v2/{repository}/manifests/{tag}").status_code, "tag delete")
            elif action == "delete" and known:
                victim = rng.choice(known)
                response = client.delete(f"/v2/{repository}/manifests/{victim}")
                ledger.check(response.status_code, "manifest delete")
                if response.status_code == 202:
                    ledger.delete(repository, victim)
        return pinned


def _collect_repeatedly(server: DockyardServer, stop: threading.Event) -> int:
    runs = 0
    while not stop.is_set():
        run_gc(server, "--now")
        runs += 1
    return runs


def _assert_exactly_reachable_is_kept(client: RegistryClient, server: DockyardServer, ledger: Ledger) -> Audit:
    run_gc(server, "--now")
    reached = audit(client, frozenset(ledger.deleted))
    for repository, digest in sorted(ledger.pushed):
        exists = client.head(f"/v2/{repository}/manifests/{digest}").status_code == 200
        assert exists == ((repository, digest) in reached.manifests), (repository, digest)
    assert stored_blobs(server) == reached.blobs
    return reached


@pytest.mark.slow
@every_backend
def test_collection_racing_clients_keeps_everything_reachable(gc_cluster: list[DockyardServer]) -> None:
    ledger = Ledger()
    stop = threading.Event()
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        collector = pool.submit(_collect_repeatedly, gc_cluster[0], stop)
        churners = [
            pool.submit(_churn, gc_cluster[number % len(gc_cluster)].url, ledger, number) for number in range(CLIENTS)
        ]
        try:
            pinned = [churner.result() for churner in churners]
        finally:
            stop.set()
        assert collector.result() > 0
    assert ledger.server_errors == []
    # The final audit needs a quiet registry: with workers still busy, a review they hold (and the
    # cascades they enqueue) would be passed over by the final `gc --now` and done a moment later.
    for server in gc_cluster:
        server.stop()
    auditor = gc_cluster[0]
    auditor.env = {**auditor.env, "DOCKYARD_GC__ENABLED": "false"}
    with RegistryClient(auditor.start().url) as client:
        reached = _assert_exactly_reachable_is_kept(client, auditor, ledger)
    for image, signature, countersignature in pinned:
        assert reached.referrers[("race/pinned", image)] == {signature}
        assert reached.referrers[("race/pinned", signature)] == {countersignature}


@pytest.mark.slow
@every_backend
@pytest.mark.parametrize("deleter", ["server", "command"])
def test_sigkill_in_the_middle_of_deletions_loses_nothing_reachable(
    tmp_path: Path, storage_env: dict[str, str], deleter: str
) -> None:
    # Garbage is made while the workers idle; then the deleter starts on it and is killed.
    server = DockyardServer(tmp_path / "data", env={**storage_env, **SHORT_LEASE})
    ledger = Ledger()
    try:
        with RegistryClient(server.start().url) as client:
            pusher = Pusher(client, ledger)
            for number in range(3):
                pusher.image("crash/kept", f"v{number}", f"kept {number}", SHARED_LAYERS[:2])
            for number in range(GARBAGE):
                pusher.blob("crash/garbage", f"garbage blob {number}".encode())
            kept = audit(client).blobs
        garbage = stored_blobs(server) - kept
        assert len(garbage) == GARBAGE
        if deleter == "command":
            _kill_gc_command_after_first_deletions(server, garbage)
        else:
            server.stop()
            server.env = {**storage_env, **SHORT_LEASE, **FAST_GC}
            server.start()
            _wait_for_first_deletions(server, garbage, lambda: server.proc and server.proc.poll())
        server.kill()
        assert stored_blobs(server) & garbage, "the kill came after every deletion"

        server.env = {**storage_env, **SHORT_LEASE}
        server.start()
        wait_until(lambda: _leased_deletions(server) == 0, 30, "the dead deleter's lease never ran out")
        run_gc(server, "--now")
        with RegistryClient(server.url) as client:
            _assert_exactly_reachable_is_kept(client, server, ledger)
        assert not stored_blobs(server) & garbage
    finally:
        server.kill()


def _leased_deletions(server: DockyardServer) -> int:
    """Blob deletions a deleter holds (or that back off) until a time still to come."""
    query = f"SELECT count(*) FROM gc_blob_deletions WHERE next_attempt_at > {time.time()}"
    [(count,)] = metadata_rows(server.data_dir, server.env, query)
    return int(count)


def _wait_for_first_deletions(server: DockyardServer, garbage: set[str], exited: Callable[[], object]) -> None:
    """Until the deleter has deleted a few garbage blobs (or exited)."""
    wait_until(
        lambda: exited() is not None or len(garbage - stored_blobs(server)) >= 10,
        120,
        "the deleter never deleted 10 garbage blobs",
        interval=0.002,
    )


def _kill_gc_command_after_first_deletions(server: DockyardServer, garbage: set[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "gc", "--now", "--data-dir", str(server.data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **server.env},
    )
    try:
        _wait_for_first_deletions(server, garbage, process.poll)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
