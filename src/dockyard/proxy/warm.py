"""Pre-warming: fetch images into the cache ahead of their pulls, every platform of an index with its
layers, as a pull through the cache would (same leases, so servers running beside it join in)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dockyard.blobs.base import StreamedBlob
from dockyard.core.digest import Digest
from dockyard.core.manifest import parse_manifest
from dockyard.core.names import is_name, parse_reference
from dockyard.proxy.service import PullThroughCache
from dockyard.proxy.upstreams import CacheRoute

ManifestBody = Callable[[str, str], Awaitable[bytes | None]]
"""The stored bytes of a manifest of a repository (the metadata store's `manifest_body`)."""


class WarmError(Exception):
    pass


@dataclass
class Warmed:
    manifests: int = 0
    blobs: dict[str, int] = field(default_factory=dict)
    """Digest and size of every blob the image needs."""
    fetched: int = 0
    """Blobs downloaded from upstream (the others were cached already)."""

    @property
    def bytes(self) -> int:
        return sum(self.blobs.values())


def parse_target(cache: PullThroughCache, text: str) -> tuple[CacheRoute, str]:
    """`hub/library/alpine:3.20`, `hub/alpine` (`latest`) or `hub/alpine@sha256:...`: the cache
    route and the reference."""
    if "@" in text:
        name, reference = text.split("@", 1)
    else:
        name, _, tag = text.rpartition(":") if ":" in text.rsplit("/", 1)[-1] else (text, "", "latest")
        reference = tag
    if not is_name(name):
        raise WarmError(f"{text}: not a repository name")
    route = cache.route(name)
    if route is None:
        prefixes = ", ".join(upstream.prefix for upstream in cache.upstreams) or "none configured"
        raise WarmError(f"{text}: names no upstream; start it with an upstream's prefix ({prefixes})")
    parse_reference(reference)
    return route, reference


async def collect(cache: PullThroughCache, route: CacheRoute, reference: str, body_of: ManifestBody) -> Warmed:
    """Fetch the manifest (and every manifest an index lists) into the cache; what blobs they need."""
    warmed = Warmed()
    pending = [reference]
    while pending:
        served = await cache.manifests.get(route, pending.pop())
        body = served.body if served.body is not None else await body_of(route.local, served.ref.digest)
        if body is None:
            raise WarmError(f"{route.local}@{served.ref.digest} vanished while being warmed")
        warmed.manifests += 1
        manifest = parse_manifest(body, served.ref.media_type)
        pending.extend(str(child.digest) for child in manifest.children)
        warmed.blobs.update((str(blob.digest), blob.size) for blob in manifest.blobs)
    return warmed


async def fetch_blobs(
    cache: PullThroughCache, route: CacheRoute, warmed: Warmed, progress: Callable[[int], object]
) -> None:
    """Fetch the blobs the cache lacks, reporting bytes as they arrive (and cached ones at once)."""
    for digest, size in warmed.blobs.items():
        served = await cache.blobs.source(route, Digest.parse(digest))
        if served.outcome == "hit" or not isinstance(served.source, StreamedBlob):
            progress(size)
            continue
        warmed.fetched += 1
        async for chunk in await served.source.open(0, served.source.size):
            progress(len(chunk))
        await cache.blobs.settle()  # the last bytes reach the reader before the blob is committed
