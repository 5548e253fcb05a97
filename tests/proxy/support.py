"""Dockyard servers that pull through real upstreams on loopback, fault proxies in front of those
upstreams, and content seeded into the upstreams to pull."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.http.ocitest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    RegistryClient,
    descriptor,
    image_manifest,
    index_manifest,
    manifest_descriptor,
)
from tests.remote.support import settled_access_log
from tests.support.backends import backend_env
from tests.support.faultproxy import FaultProxy
from tests.support.metrics import metric
from tests.support.server import DockyardServer

from dockyard.core.digest import Digest

MANIFESTS = "/v2/*/manifests/*"
BLOBS = "/v2/*/blobs/*"


def unique(prefix: str = "library/app") -> str:
    """A repository name no other test uses, so that upstream request counts are a test's own."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Image:
    """Content as pushed upstream: the manifest's exact bytes and every blob it references."""

    body: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return str(Digest.of(self.body))

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return manifest_descriptor(self.body, self.media_type, **extra)


def seed_image(url: str, repository: str, tag: str | None, layer_sizes: tuple[int, ...] = (4096,)) -> Image:
    """Push an image of random layers to an upstream (tagged, or by digest when `tag` is None)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "id": uuid.uuid4().hex}).encode()
    layers = [os.urandom(size) for size in layer_sizes]
    with RegistryClient(url) as client:
        for blob in (config, *layers):
            client.push_blob(repository, blob)
        body = image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER) for layer in layers])
        client.push_manifest(repository, tag, body)
    return Image(body, OCI_MANIFEST, {str(Digest.of(blob)): blob for blob in (config, *layers)})


def seed_index(url: str, repository: str, tag: str, platforms: int = 2) -> tuple[Image, list[Image]]:
    """A multi-platform index of `platforms` images, each pushed by digest, the index tagged."""
    children = [seed_image(url, repository, None) for _ in range(platforms)]
    archs = ["amd64", "arm64", "s390x", "ppc64le"]
    body = index_manifest(
        [child.descriptor(platform={"architecture": archs[n], "os": "linux"}) for n, child in enumerate(children)]
    )
    with RegistryClient(url) as client:
        client.push_manifest(repository, tag, body, OCI_INDEX)
    return Image(body, OCI_INDEX), children


@dataclass
class Cache:
    """A dockyard server pulling through upstreams, with a fault proxy in front of each upstream."""

    server: DockyardServer
    env: dict[str, str]
    faults: dict[str, FaultProxy]
    access_log: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def client(self, timeout: float = 60.0) -> RegistryClient:
        return RegistryClient(self.url, timeout=timeout)

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.url, name, **labels)

    def logged(self, needle: str, deadline: float = 15.0) -> list[str]:
        """Access-log lines mentioning `needle`, once everything answered so far is in the log."""
        return [line for line in settled_access_log(self.url, self.access_log, deadline) if needle in line]


def upstream(name: str, url: str, **keys: Any) -> dict[str, Any]:
    return {"name": name, "url": url, **keys}


def start_cache(
    request: pytest.FixtureRequest,
    directory: Path,
    backend: str,
    upstreams: list[dict[str, Any]],
    faults: dict[str, FaultProxy],
    **settings: Any,
) -> Cache:
    """A dockyard on `backend` whose `proxy.upstreams` are these (`settings`: more top-level sections,
    `proxy` keys besides the upstreams under `proxy`)."""
    directory.mkdir(parents=True, exist_ok=True)
    proxy = {"upstreams": upstreams, **settings.pop("proxy", {})}
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump({"proxy": proxy, **settings}))
    access_log = directory / "access.log"
    env = {**backend_env(request, backend), "DOCKYARD_ACCESS_LOG_FILE": str(access_log)}
    server = DockyardServer(directory / "data", ["--config", str(config)], env=env).start()
    return Cache(server, env, faults, access_log)


def fault_proxies(targets: dict[str, str]) -> Iterator[dict[str, FaultProxy]]:
    """A started fault proxy in front of each target, by name; all stopped at the end."""
    started: dict[str, FaultProxy] = {}
    try:
        for name, target in targets.items():
            started[name] = FaultProxy(target).start()
        yield started
    finally:
        for proxy in started.values():
            proxy.stop()
