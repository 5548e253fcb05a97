"""Large blobs, sent in chunks, whose copy breaks off. A 512 MiB layer pushed to a target that is killed
mid-copy: the upload goes on from what the target holds once it is back, and the blob there has the
right digest. A copy whose process is stopped mid-upload (Ctrl-C: the run is cancelled wherever it
is): the rule's next run, in another process, resumes the upload the first one left on the target
(its URL was kept in the metadata store from the upload's start) instead of sending the blob again.
The targets are dockyards (Distribution loses a broken chunk's upload: the remote client's own tests
cover resuming it between chunks)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.auth.support import bearer, fetch_token
from tests.remote.conftest import TokenDockyard
from tests.replication.support import (
    Bytes,
    blob_digest_there,
    in_process,
    settings_of,
    store_image,
    target,
    write_config,
)
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.meta.replication import ReplicationRun
from dockyard.remote import RemoteSettings
from dockyard.remote.headers import upload_offset
from dockyard.replication.sides import CHUNK_BYTES

SIZE = 512 << 20
SEED = 512
KILL_AFTER = 200 << 20


def kill_midway(remote: DockyardServer, restarted: list[threading.Thread]) -> None:
    """Kill the target once its upload holds KILL_AFTER bytes, and start it again."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        held = [path.stat().st_size for path in remote.data_dir.glob("uploads/*") if path.is_file()]
        if held and max(held) >= KILL_AFTER:
            remote.kill()
            remote.start()
            restarted.append(threading.current_thread())
            return
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_large_blob_copy_resumes_after_the_target_was_killed(tmp_path: Path) -> None:
    remote = DockyardServer(tmp_path / "target")
    replication = {
        "targets": [target("dist", remote.url)],
        "rules": [{"name": "large", "direction": "push", "target": "dist", "repositories": ["large/app"]}],
    }
    settings = settings_of(tmp_path, replication)
    killer: list[threading.Thread] = []
    try:
        with ThreadPoolExecutor(1) as starter:
            started = starter.submit(remote.start)  # while the layer is written here
            layer = asyncio.run(store_image(settings, "large/app", "big", SIZE, SEED))
            started.result()
        watcher = threading.Thread(target=kill_midway, args=(remote, killer))
        watcher.start()
        progress = Bytes()

        async def copy() -> None:
            async with in_process(settings) as composed:
                run = await composed.replication.runners["large"].run("manual", progress=progress)
                assert run is not None
                assert run.result == "succeeded", run.message

        asyncio.run(copy())
        watcher.join(60)
        assert killer, "the target was never killed"
        assert SIZE < progress.moved < SIZE + 3 * CHUNK_BYTES  # resumed, not started over
        assert asyncio.run(blob_digest_there(RemoteSettings(remote.url), "large/app", layer)) == layer
    finally:
        remote.stop()


RESUMED_SIZE = 96 << 20
RESUMED_SEED = 96
# The killed run sends slowly, so that it is surely killed mid-upload (the rest of the layer takes
# it 16 s, while a look at the target on a loaded machine takes seconds); the run that resumes does not.
KILLED_RUN_RATE = 4 << 20


async def held_there(settings: Settings, there: RemoteSettings, layer: str) -> int:
    """What the target holds of the upload the rule keeps in the metadata store (0 while it keeps none),
    as the target answers for it."""
    async with open_stores(settings) as (meta, _):
        location = await meta.replication_upload("resumed", "resumed/app", layer)
    if location is None:
        return 0
    assert there.password is not None
    token = fetch_token(there.url, there.username, "repository:resumed/app:pull,push")
    async with httpx.AsyncClient() as client:
        answer = await client.get(there.url + location, headers=bearer(token))
    assert answer.status_code == 204, answer.text
    return upload_offset(answer.headers.get("Range")) or 0


def test_an_upload_broken_off_by_a_stopped_process_is_resumed_by_the_next_run(
    tmp_path: Path, token_dockyard: TokenDockyard
) -> None:
    there = token_dockyard.settings("admin")
    assert there.password is not None
    rule = {"name": "resumed", "direction": "push", "target": "dr", "repositories": ["resumed/app"]}
    replication = {"targets": [target("dr", there.url, "admin", there.password.reveal())], "rules": [rule]}
    settings = settings_of(tmp_path, replication)
    slow = write_config(tmp_path, replication | {"rules": [rule | {"max_bytes_per_second": KILLED_RUN_RATE}]})
    layer = asyncio.run(store_image(settings, "resumed/app", "v1", RESUMED_SIZE, RESUMED_SEED))

    command = [sys.executable, "-m", "dockyard", "replicate", "run", "resumed", "--config", str(slow)]
    stopped = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def two_chunks_held() -> int | None:
        assert stopped.poll() is None, "the run ended before it was stopped"
        held = asyncio.run(held_there(settings, there, layer))
        return held if held >= 2 * CHUNK_BYTES else None

    try:
        held = wait_until(two_chunks_held, 120, "the target never held two chunks of the upload", interval=0.1)
    finally:
        # Killed as a crash would stop it, mid-upload: nothing of it is cleaned up, and its lease on the
        # rule runs out by itself (LEASE_SECONDS) before another run may start.
        os.killpg(stopped.pid, signal.SIGKILL)
        stopped.wait(30)
    assert asyncio.run(held_there(settings, there, layer)) >= held

    progress = Bytes()

    async def resume() -> ReplicationRun | None:
        async with in_process(settings) as composed:
            return await composed.replication.runners["resumed"].run("manual", progress=progress)

    run = wait_until(lambda: asyncio.run(resume()), 120, "the killed run's lease never ran out", interval=1)
    assert run.result == "succeeded", run.message
    assert 0 < progress.moved <= RESUMED_SIZE - held + 1024  # the rest of the layer (and the config's bytes)
    assert asyncio.run(held_there(settings, there, layer)) == 0  # nothing kept once the blob is complete
    assert asyncio.run(blob_digest_there(there, "resumed/app", layer)) == layer
