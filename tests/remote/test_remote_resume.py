"""Chunked uploads resumed after the remote died mid-upload: killed (SIGKILL) and started again on the
same data directory and port. The client asks the upload URL how much arrived and carries on from
there; the blob that results is checked byte for byte."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.remote.support import Distribution, run
from tests.support.server import DockyardServer

from dockyard.core.digest import Digest
from dockyard.remote import RemoteClient, RemoteCounters, RemoteSettings, UploadInterrupted

MIB = 1024 * 1024
SIZE = 24 * MIB
CHUNK = 4 * MIB
DATA = os.urandom(SIZE)
DIGEST = Digest.of(DATA)


class Source:
    """The blob's bytes from any offset, noting each offset asked for; `sabotage(offset, sent)` runs
    before each piece goes out (where the test kills the remote)."""

    def __init__(self, sabotage: Callable[[int, int], None] = lambda offset, sent: None):
        self.offsets: list[int] = []
        self._sabotage = sabotage

    async def __call__(self, offset: int) -> AsyncIterator[bytes]:
        self.offsets.append(offset)
        for start in range(offset, SIZE, MIB):
            self._sabotage(offset, start - offset)
            yield DATA[start : start + MIB]


class Crash:
    """Kill the remote once, when the upload reaches `at` bytes (plus `into` bytes of that chunk) and
    `ready()` says so, and start it again in the background, as a restarted registry would come back."""

    def __init__(
        self,
        kill: Callable[[], None],
        start: Callable[[], object],
        at: int,
        into: int = 0,
        ready: Callable[[], bool] = lambda: True,
    ):
        self._kill, self._start, self._at, self._into, self._ready = kill, start, at, into, ready
        self.restarted: threading.Thread | None = None

    def __call__(self, offset: int, sent: int) -> None:
        if self.restarted is None and offset == self._at and sent == self._into:
            deadline = time.monotonic() + 20
            while not self._ready():  # blocks the client's loop: nothing more is sent meanwhile
                assert time.monotonic() < deadline, "the remote never got that far"
                time.sleep(0.01)
            self._kill()
            self.restarted = threading.Thread(target=self._start)
            self.restarted.start()


def settings(url: str) -> RemoteSettings:
    return RemoteSettings(url, breaker_cooldown=1.0)


async def stored_digest(client: RemoteClient, repository: str) -> str:
    hasher = hashlib.sha256()
    async with client.get_blob(repository, DIGEST) as stream:
        async for chunk in stream.chunks:
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def test_resumed_on_distribution_after_a_kill_between_chunks(tmp_path: Path) -> None:
    """Distribution keeps an upload's offset in the signed state of its upload URL: killed before a
    chunk's bytes arrived, the upload goes on from the chunk boundary."""
    remote = Distribution(tmp_path / "distribution").start()
    crash = Crash(remote.kill, remote.start, at=3 * CHUNK)
    source = Source(crash)
    counters = RemoteCounters()
    try:

        async def scenario() -> None:
            async with RemoteClient(settings(remote.url), counters) as client:
                await client.upload_blob("resume/dist", DIGEST, SIZE, source, chunk_size=CHUNK, attempts=8)
                assert await stored_digest(client, "resume/dist") == str(DIGEST)

        run(scenario())
    finally:
        if crash.restarted is not None:
            crash.restarted.join(60)
        remote.stop()
    assert crash.restarted is not None, "the remote was never killed"
    assert source.offsets.count(0) == 1  # never restarted from scratch
    assert source.offsets.count(3 * CHUNK) == 2  # the interrupted chunk, sent again
    assert counters.sent < SIZE + CHUNK


def test_resumed_on_dockyard_after_a_kill_mid_chunk(tmp_path: Path) -> None:
    """dockyard reports the bytes it acknowledged, and no more: what a killed server had received of a
    chunk was never synced (after a power cut it could hold holes), so the upload goes on from the
    chunk's start, even though part of it had reached the file."""
    remote = DockyardServer(tmp_path / "data").start()

    def part_of_the_chunk_stored() -> bool:
        return any(upload.stat().st_size > 2 * CHUNK for upload in (tmp_path / "data").rglob("uploads/*"))

    crash = Crash(remote.kill, remote.start, at=2 * CHUNK, into=2 * MIB, ready=part_of_the_chunk_stored)
    source = Source(crash)
    try:

        async def scenario() -> None:
            async with RemoteClient(settings(remote.url)) as client:
                await client.upload_blob("resume/dockyard", DIGEST, SIZE, source, chunk_size=CHUNK, attempts=8)
                assert await stored_digest(client, "resume/dockyard") == str(DIGEST)

        run(scenario())
    finally:
        if crash.restarted is not None:
            crash.restarted.join(60)
        remote.stop()
    assert crash.restarted is not None, "the remote was never killed"
    assert source.offsets.count(0) == 1
    assert source.offsets.count(2 * CHUNK) == 2  # the broken chunk, sent again whole


def test_interrupted_upload_resumed_by_a_later_call(tmp_path: Path) -> None:
    """With no attempts left the upload fails with its session, and a later call resumes that session."""
    remote = Distribution(tmp_path / "distribution").start()
    source = Source(Crash(remote.kill, lambda: None, at=CHUNK))
    try:

        async def scenario() -> None:
            async with RemoteClient(settings(remote.url)) as client:
                with pytest.raises(UploadInterrupted) as interrupted:
                    await client.upload_blob("resume/later", DIGEST, SIZE, source, chunk_size=CHUNK, attempts=0)
                remote.start()
                resumed = Source()
                session = interrupted.value.session
                await client.upload_blob("resume/later", DIGEST, SIZE, resumed, chunk_size=CHUNK, resume=session)
                assert resumed.offsets[0] == CHUNK
                assert await stored_digest(client, "resume/later") == str(DIGEST)

        run(scenario())
    finally:
        remote.stop()
