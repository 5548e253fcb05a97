"""Registries to replicate between, and ways to compare them: both sides' tags by digest, through
dockyard's own remote client (which speaks the token flow the token-mode dockyard asks for); the
command line and the composition of a server, run in this process over a server's stores."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, image_manifest, seeded_chunks
from tests.remote.support import Image, artifact, image, index_of, push
from tests.support.server import DockyardServer

from dockyard import cli
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.core.digest import Digest
from dockyard.remote import RemoteClient, RemoteSettings
from dockyard.replication.copier import Silent
from dockyard.server import Composed, compose

__all__ = ["Image", "artifact", "image", "index_of"]

REFERRERS_TAG = re.compile(r"sha256-[0-9a-f]{64}")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _inventory(settings: RemoteSettings, repository: str) -> dict[str, str]:
    async with RemoteClient(settings) as client:
        try:
            tags = await client.list_tags(repository)
        except Exception:
            return {}
        return {tag: str((await client.head_manifest(repository, tag)).digest) for tag in tags}


def inventory(settings: RemoteSettings, repository: str) -> dict[str, str]:
    """Every tag of the repository with the digest it points at, but for the tags a registry without
    the referrers API keeps its referrers under (`sha256-<hex>`)."""
    result: dict[str, str] = run(_inventory(settings, repository))
    return {tag: digest for tag, digest in result.items() if not REFERRERS_TAG.fullmatch(tag)}


async def _has(settings: RemoteSettings, repository: str, digest: str) -> bool:
    async with RemoteClient(settings) as client:
        try:
            await client.head_manifest(repository, digest)
        except Exception:
            return False
        return True


def has_manifest(settings: RemoteSettings, repository: str, digest: str) -> bool:
    result: bool = run(_has(settings, repository, digest))
    return result


def push_images(settings: RemoteSettings, repository: str, *images: tuple[Image, str | None]) -> None:
    async def pushing() -> None:
        async with RemoteClient(settings) as client:
            for item, tag in images:
                await push(client, repository, item, tag)

    run(pushing())


def target(name: str, url: str, user: str | None = None, password: str | None = None) -> dict[str, str]:
    entry = {"name": name, "url": url}
    if user is not None and password is not None:
        entry |= {"username": user, "password": password}
    return entry


def write_config(directory: Path, replication: dict[str, Any], name: str = "config", **extra: Any) -> Path:
    """A configuration file `directory/<name>.yaml` for the stores in directory/data."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / f"{name}.yaml"
    document = {"data_dir": str(directory / "data"), "replication": replication, **extra}
    config.write_text(yaml.safe_dump(document))
    return config


def replicating_server(
    directory: Path, replication: dict[str, Any], env: dict[str, str] | None = None
) -> DockyardServer:
    """A dockyard with these replication settings (not started): its configuration in
    directory/config.yaml, its data in directory/data."""
    config = write_config(directory, replication)
    return DockyardServer(directory / "data", ["--config", str(config)], env=env)


def settings_of(directory: Path, replication: dict[str, Any], **extra: Any) -> Settings:
    """The settings a server on `directory` runs with (its data in directory/data)."""
    return Settings.model_validate({"data_dir": str(directory / "data"), "replication": replication, **extra})


@asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[Composed]:
    """The registry and replication over a server's stores, as `dockyard replicate run` composes them."""
    async with open_stores(settings) as (meta, store):
        composed = compose(settings, meta, store)
        try:
            yield composed
        finally:
            await composed.replication.close()


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def replicate(config: Path, *args: str) -> Outcome:
    """`dockyard replicate ARGS --config CONFIG` as the command line runs it, in this process: the
    same parsing, settings and output, without an interpreter's start-up (the environment the
    command sets for its settings is put back afterwards)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ), redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as ended:
        cli.main(["replicate", *args, "--config", str(config)])
    code = ended.value.code
    assert isinstance(code, int), code  # a message instead: the configuration was refused
    return Outcome(code, out.getvalue(), err.getvalue())


class Bytes(Silent):
    """A run's progress, counting the blob bytes sent (again after a break: counted again)."""

    def __init__(self) -> None:
        self.moved = 0

    def bytes_moved(self, count: int) -> None:
        self.moved += count


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


async def put_image(composed: Composed, repository: str, item: Image, tag: str) -> None:
    """Push an image through a composition's registry layer, as a push over HTTP would."""
    for digest, data in item.blobs.items():
        await composed.registry.uploads.upload_whole(repository, Digest.parse(digest), _once(data), len(data))
    await composed.registry.manifests.put(repository, tag, item.manifest, item.media_type, ())


async def store_image(settings: Settings, repository: str, tag: str, size: int, seed: int) -> str:
    """Write an image with one layer of `size` seeded bytes straight into a registry's stores, through
    its registry layer as a chunked push would (no server or HTTP in between); the layer's digest,
    computed on the way."""
    hasher = hashlib.sha256()

    async def layer_bytes() -> AsyncIterator[bytes]:
        for chunk in seeded_chunks(seed, size):
            hasher.update(chunk)
            yield chunk

    config = b'{"architecture":"amd64","os":"linux"}'
    async with in_process(settings) as composed:
        uploads = composed.registry.uploads
        session = await uploads.start(repository)
        await uploads.append(repository, session.id, layer_bytes(), 0)
        layer = f"sha256:{hasher.hexdigest()}"
        await uploads.complete(repository, session.id, Digest.parse(layer), _nothing())
        config_descriptor = descriptor(config, OCI_CONFIG)
        await uploads.upload_whole(repository, Digest.parse(config_descriptor["digest"]), _once(config), len(config))
        body = image_manifest(config_descriptor, [{"mediaType": OCI_LAYER, "digest": layer, "size": size}])
        await composed.registry.manifests.put(repository, tag, body, OCI_MANIFEST, ())
    return layer


async def blob_digest_there(settings: RemoteSettings, repository: str, digest: str) -> str:
    """The digest of the blob's bytes as the registry serves them, computed here."""
    hasher = hashlib.sha256()
    async with RemoteClient(settings) as client, client.get_blob(repository, digest) as stream:
        async for chunk in stream.chunks:
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"
