"""Registries to replicate between, and ways to compare them: both sides' tags by digest, through
dockyard's own remote client (which speaks the token flow the token-mode dockyard asks for)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from tests.remote.support import Image, artifact, image, index_of, push
from tests.support.server import DockyardServer

from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.remote import RemoteClient, RemoteSettings
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


def write_config(directory: Path, replication: dict[str, Any], **extra: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    document = {"data_dir": str(directory / "data"), "replication": replication, **extra}
    config.write_text(yaml.safe_dump(document))
    return config


def replicating_server(
    directory: Path, replication: dict[str, Any], env: dict[str, str] | None = None
) -> DockyardServer:
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


def referrers_index(body: bytes) -> list[str]:
    return [entry["digest"] for entry in json.loads(body)["manifests"]]
