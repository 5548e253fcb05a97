"""Remote registries for the client's tests: Distribution 2.8.2 on a port it keeps across restarts,
dockyard in token mode, and ways to build and compare content."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from bench.procs import DISTRIBUTION_BIN, Registry, distribution_config, free_port, wait_ready
from tests.http.ocitest import (
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    image_manifest,
    index_manifest,
)

from dockyard.core.digest import Digest
from dockyard.remote import RemoteClient

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class Distribution:
    """Distribution 2.8.2 (no auth) on a fixed port and data directory, so it can be killed and
    started again as the same registry."""

    def __init__(self, work: Path):
        self.work = work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = work / "data"
        self.log_path = work / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Distribution:
        self.data.mkdir(parents=True, exist_ok=True)
        config = self.work / "config.yml"
        config.write_text(distribution_config(self.data, self.port, access_log=True))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [DISTRIBUTION_BIN, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_ready(Registry("distribution", self.url, "distribution", proc=self.proc, log_path=self.log_path))
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def access_log_lines(path: Path, needle: str) -> int:
    """Lines of a dockyard access log that mention `needle` (a path)."""
    if not path.exists():
        return 0
    return sum(needle in line for line in path.read_text(errors="replace").splitlines())


def settled_access_log(url: str, path: Path, deadline: float = 15.0) -> list[str]:
    """The lines of a dockyard access log once everything answered so far is in it: the log is
    written by a thread, so a marker request is sent and waited for."""
    marker = f"marker-{uuid.uuid4().hex}"
    httpx.get(f"{url}/v2/{marker}/tags/list")
    until = time.monotonic() + deadline
    while access_log_lines(path, marker) == 0:
        assert time.monotonic() < until, "the access log never showed the marker request"
        time.sleep(0.02)
    return path.read_text(errors="replace").splitlines()


async def chunks_of(data: bytes, offset: int = 0, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(offset, len(data), size):
        yield data[start : start + size]


def factory(data: bytes) -> Any:
    """A `chunks_factory` over bytes in memory."""
    return lambda offset: chunks_of(data, offset)


async def pull_blob(client: RemoteClient, repository: str, digest: Digest | str, start: int | None = None) -> bytes:
    async with client.get_blob(repository, digest, start) as stream:
        data = b"".join([chunk async for chunk in stream.chunks])
    assert len(data) == stream.size
    return data


@dataclass
class Image:
    """What was pushed: every blob and manifest with its exact bytes."""

    manifest: bytes
    media_type: str
    blobs: dict[str, bytes]

    @property
    def digest(self) -> Digest:
        return Digest.of(self.manifest)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": str(self.digest), "size": len(self.manifest), **extra}


def image(seed: str, layer_size: int = 200_000) -> Image:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = (seed.encode() * (layer_size // len(seed) + 1))[:layer_size]
    body = image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)])
    return Image(body, OCI_MANIFEST, {str(Digest.of(config)): config, str(Digest.of(layer)): layer})


def index_of(children: list[Image]) -> Image:
    platforms = [{"architecture": arch, "os": "linux"} for arch in ("amd64", "arm64", "s390x")]
    body = index_manifest([child.descriptor(platform=platforms[i]) for i, child in enumerate(children)])
    return Image(body, OCI_INDEX, {})


def artifact(subject: Image, artifact_type: str, payload: bytes) -> Image:
    body = image_manifest(
        descriptor(EMPTY_JSON, OCI_EMPTY),
        [descriptor(payload, "application/octet-stream")],
        artifact_type=artifact_type,
        subject=subject.descriptor(),
        annotations={"org.example.note": artifact_type},
    )
    return Image(body, OCI_MANIFEST, {str(Digest.of(EMPTY_JSON)): EMPTY_JSON, str(Digest.of(payload)): payload})


async def push(client: RemoteClient, repository: str, item: Image, tag: str | None = None) -> Digest:
    for digest, data in item.blobs.items():
        if await client.head_blob(repository, digest) is None:
            await client.upload_blob(repository, digest, len(data), factory(data))
    return await client.put_manifest(repository, tag or item.digest, item.media_type, item.manifest)
