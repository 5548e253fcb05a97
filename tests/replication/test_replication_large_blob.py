"""A 512 MiB layer pushed to a target that is killed mid-copy: the upload goes on from what the target
kept once it is back, and the blob there has the right digest. The target is a dockyard, which keeps
the part of a chunk that arrived before the kill (Distribution loses a broken chunk's upload: the
remote client's own tests cover resuming it between chunks)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, descriptor, image_manifest, seeded_chunks, seeded_digest
from tests.replication.conftest import target
from tests.replication.support import in_process, settings_of
from tests.support.server import DockyardServer

from dockyard.remote import RemoteClient, RemoteSettings
from dockyard.replication.sides import CHUNK_BYTES

SIZE = 512 << 20
SEED = 512
KILL_AFTER = 200 << 20


class Bytes:
    """A run's progress, counting the bytes sent (again after a break: counted again)."""

    def __init__(self) -> None:
        self.moved = 0

    def planned(self, images: int) -> None:
        pass

    def image_done(self) -> None:
        pass

    def blob_done(self) -> None:
        pass

    def bytes_moved(self, count: int) -> None:
        self.moved += count


async def push_large_image(url: str, repository: str) -> str:
    layer = seeded_digest(SEED, SIZE)
    config = b'{"architecture":"amd64","os":"linux"}'

    async def chunks(offset: int) -> AsyncIterator[bytes]:
        assert offset == 0
        for chunk in seeded_chunks(SEED, SIZE):
            yield chunk

    async with RemoteClient(RemoteSettings(url)) as client:
        await client.upload_blob(repository, layer, SIZE, chunks)
        config_descriptor = descriptor(config, OCI_CONFIG)
        await client.upload_blob(repository, config_descriptor["digest"], len(config), lambda _: _once(config))
        layer_descriptor = {"mediaType": OCI_LAYER, "digest": layer, "size": SIZE}
        body = image_manifest(config_descriptor, [layer_descriptor])
        await client.put_manifest(repository, "big", "application/vnd.oci.image.manifest.v1+json", body)
    return layer


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def digest_there(url: str, repository: str, digest: str) -> str:
    hasher = hashlib.sha256()
    async with RemoteClient(RemoteSettings(url)) as client, client.get_blob(repository, digest) as stream:
        async for chunk in stream.chunks:
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


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
    remote = DockyardServer(tmp_path / "target").start()
    replication = {
        "targets": [target("dist", remote.url)],
        "rules": [{"name": "large", "direction": "push", "target": "dist", "repositories": ["large/app"]}],
    }
    source = DockyardServer(tmp_path / "data").start()
    killer: list[threading.Thread] = []
    try:
        layer = asyncio.run(push_large_image(source.url, "large/app"))
        watcher = threading.Thread(target=kill_midway, args=(remote, killer))
        watcher.start()
        progress = Bytes()

        async def copy() -> None:
            async with in_process(settings_of(tmp_path, replication)) as composed:
                run = await composed.replication.runners["large"].run("manual", progress=progress)
                assert run is not None
                assert run.result == "succeeded", run.message

        asyncio.run(copy())
        watcher.join(60)
        assert killer, "the target was never killed"
        assert SIZE < progress.moved < SIZE + 3 * CHUNK_BYTES  # resumed, not started over
        assert asyncio.run(digest_there(remote.url, "large/app", layer)) == layer
    finally:
        source.stop()
        remote.stop()
