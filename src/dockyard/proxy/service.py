"""The pull-through cache as the registry and the HTTP layer use it: the routes, the manifest and blob
caches, upstream listings, and the background work (pull times, eviction)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard import __version__
from dockyard.blobs.base import BlobStore
from dockyard.config.proxy import Proxy
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.meta.cache import CacheState
from dockyard.proxy import metrics
from dockyard.proxy.blobs import BlobCache, BlobCacheStore
from dockyard.proxy.eviction import Eviction
from dockyard.proxy.leases import Leases
from dockyard.proxy.manifests import ManifestCache, ManifestCacheStore
from dockyard.proxy.metrics import UpstreamObserver
from dockyard.proxy.notify import FillEvents, NoEvents
from dockyard.proxy.pulls import CachePulls
from dockyard.proxy.upstreams import CacheRoute, Routes, Upstream
from dockyard.remote import RemoteClient, RemoteSettings
from dockyard.telemetry.periodic import every

log = logging.getLogger("dockyard.proxy")

_PUBLISH_SECONDS = 1.0


class CacheStore(BlobCacheStore, ManifestCacheStore, CacheState, Protocol):
    """Everything the cache reads and writes in the metadata store."""


@dataclass(frozen=True, slots=True)
class CacheNote:
    """How the cache answered a request, for the access log and the served-bytes metric."""

    upstream: str
    outcome: str


@dataclass(frozen=True, slots=True)
class LocalName:
    """The repository a request is served from, and the `ns` to echo when that chose the upstream."""

    name: str
    namespace: str | None = None


class PullThroughCache:
    def __init__(
        self,
        settings: Proxy,
        meta: CacheStore,
        store: BlobStore,
        *,
        manifest_max_bytes: int,
        events: FillEvents | None = None,
    ):
        upstreams = [
            Upstream(
                upstream,
                RemoteClient(
                    RemoteSettings.of(upstream, user_agent=f"dockyard/{__version__}"), UpstreamObserver(upstream.name)
                ),
            )
            for upstream in settings.upstreams
        ]
        self._settings = settings
        self._meta = meta
        self.routes = Routes(upstreams)
        self.pulls = CachePulls(meta)
        leases = Leases(meta, settings.lease_seconds)
        fills = events or NoEvents()
        self.blobs = BlobCache(meta, store, leases, self.pulls, fills)
        self.manifests = ManifestCache(meta, leases, self.pulls, fills, manifest_max_bytes)
        self.eviction = Eviction(meta, upstreams)

    @property
    def upstreams(self) -> Sequence[Upstream]:
        return self.routes.upstreams

    def route(self, repository: str) -> CacheRoute | None:
        """The cache route of a cache repository (by its local name), None for any other."""
        return self.routes.of_local(repository)

    def refuse_writes(self, repository: str) -> None:
        """Pushes and deletes into a cache repository are refused, whatever the caller's rights."""
        route = self.routes.of_local(repository)
        if route is not None:
            raise RegistryError(
                ErrorCode.DENIED,
                f"{repository} is a cache of {route.upstream.describe()}: it cannot be pushed to or deleted from",
            )

    async def local_name(self, name: str, *, pull: bool, namespace: str | None, own_host: str | None) -> LocalName:
        """The repository a request naming `name` is served from: a cache repository when the name is
        under an upstream's prefix, or (pulls only) when `?ns=` names an upstream's namespace, or it
        does not exist locally and there is a default upstream; else `name` itself."""
        route = self.routes.of_local(name)
        if route is not None:
            return LocalName(route.local)
        if not pull:
            return LocalName(name)
        if namespace and namespace.lower() != (own_host or "").lower():
            route = self.routes.by_namespace(name, namespace)
            if route is not None:
                return LocalName(route.local, namespace)
        if self.routes.default is not None and not await self._meta.repository_exists(name):
            default = self.routes.by_default(name)
            assert default is not None
            return LocalName(default.local)
        return LocalName(name)

    async def run(self, paused: Callable[[], Awaitable[bool]], flush_seconds: float) -> None:
        """Write pull times and evict until cancelled; idle while `paused` (read-only mode)."""
        if not self.upstreams:
            return
        await asyncio.gather(
            every(flush_seconds, "recording cache pulls", self.pulls.flush, log, paused),
            every(self._settings.eviction_interval_seconds, "evicting cached content", self.eviction.run, log, paused),
            every(_PUBLISH_SECONDS, "publishing cache metrics", _publish, log),
        )

    async def close(self) -> None:
        metrics.TALLIES.publish()
        await self.blobs.close()
        try:
            await self.pulls.flush()
        except Exception:
            log.exception("recording the last cache pulls failed")
        for upstream in self.upstreams:
            await upstream.client.close()


async def _publish() -> None:
    metrics.TALLIES.publish()
