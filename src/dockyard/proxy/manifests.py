"""Manifests of cache repositories: stored byte for byte as upstream serves them, served from the
cache while fresh, revalidated with one HEAD when not, served stale (with a Warning) while upstream
fails.

- By digest: served from the cache until evicted, never revalidated (content under a digest never
  changes); a miss is one GET upstream.
- By tag: fresh for `tag_ttl_seconds` after upstream last confirmed it; then one HEAD compares the
  digest, and only a changed digest costs a GET (of that digest, unless the cache has it already).
  An uncached tag is one GET; asked with HEAD (as containerd and docker resolve tags), one HEAD plus
  a GET by digest, so that the tag is cached for the pull that follows.
- Upstream failing (429, 5xx, timeout, refused, an open breaker): a cached tag last confirmed within
  `max_stale_seconds` is served with `Warning: 299`; otherwise the client gets errors.py's answer.
- Upstream answering 404 for a cached tag: the tag is gone upstream, so it is deleted here too (and
  the client gets 404); its manifest stays reachable by digest until evicted.

A miss is fetched once across every process and instance (leases.py); revalidations take turns
within a process.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError, Unavailable
from dockyard.core.names import remembered_reference
from dockyard.meta.cache import CachedTag, CacheState
from dockyard.meta.manifests import ManifestRef, Manifests, NewManifest
from dockyard.proxy import metrics
from dockyard.proxy.errors import upstream_failure, warning
from dockyard.proxy.leases import Leases
from dockyard.proxy.notify import Filled, FillEvents
from dockyard.proxy.pulls import CachePulls
from dockyard.proxy.upstreams import CacheRoute
from dockyard.remote import RemoteError, RemoteNotFound, RemoteUnavailable

Outcome = Literal["hit", "miss", "stale"]


class ManifestCacheStore(CacheState, Manifests, Protocol):
    """Cached tags and manifests."""


@dataclass(frozen=True, slots=True)
class ServedManifest:
    ref: ManifestRef
    body: bytes | None
    """The bytes when they are at hand (a miss); None: the registry reads them as for any manifest."""
    outcome: Outcome
    warning: str | None = None
    """A `Warning` header value, when served stale."""


def _unknown(reference: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"reference": reference[:200]})


def _key(route: CacheRoute, reference: str | Digest) -> str:
    return f"manifest:{route.local}:{reference}"


def _reason(error: RemoteError) -> str:
    if isinstance(error, RemoteUnavailable) and not error.dialled:
        return "not dialled for now"
    if isinstance(error, RemoteUnavailable) and error.timed_out:
        return "timed out"
    return f"HTTP {error.status}" if error.status is not None else "unreachable"


class ManifestCache:
    def __init__(self, meta: ManifestCacheStore, leases: Leases, pulls: CachePulls, events: FillEvents, max_bytes: int):
        self._meta = meta
        self._leases = leases
        self._pulls = pulls
        self._events = events
        self._max_bytes = max_bytes

    async def get(self, route: CacheRoute, reference: str, *, head: bool = False) -> ServedManifest:
        try:
            target = remembered_reference(reference)
        except RegistryError:
            raise _unknown(reference) from None
        if isinstance(target, Digest):
            served = await self._by_digest(route, target)
        else:
            served = await self._by_tag(route, target, head)
        metrics.TALLIES.served(route.upstream.name, "manifest", served.outcome)
        return served

    async def _by_digest(self, route: CacheRoute, digest: Digest) -> ServedManifest:
        ref = await self._meta.manifest_by_digest(route.local, str(digest))
        if ref is None:
            async with self._leases.turn(_key(route, digest)):
                ref = await self._meta.cached_manifest(route.local, str(digest))
                if ref is None:
                    return await self._fetch(route, digest, None)
        self._pulls.digest(route.local, str(digest))
        return ServedManifest(ref, None, "hit")

    async def _by_tag(self, route: CacheRoute, tag: str, head: bool) -> ServedManifest:
        asked_at = time.time()
        cached = await self._meta.cached_tag(route.local, tag)
        if cached is None or not self._fresh(route, cached, asked_at):
            # Misses are fetched once across instances; revalidations only take turns in this process.
            async with self._leases.turn(_key(route, tag), across_instances=cached is None):
                cached = await self._meta.cached_tag(route.local, tag, fresh=True)
                if cached is None:
                    return await self._fetch_tag(route, tag, head)
                if not self._fresh(route, cached, asked_at):
                    return await self._revalidate(route, tag, cached)
        self._pulls.tag(route.local, tag)
        return ServedManifest(ManifestRef(cached.digest, cached.media_type, cached.size), None, "hit")

    @staticmethod
    def _fresh(route: CacheRoute, cached: CachedTag, asked_at: float) -> bool:
        """Within its TTL, or confirmed since the request came in (while it waited its turn)."""
        return asked_at - cached.checked_at < route.upstream.settings.tag_ttl_seconds or cached.checked_at >= asked_at

    async def _fetch_tag(self, route: CacheRoute, tag: str, head: bool) -> ServedManifest:
        client = route.upstream.client
        try:
            if head:
                found = await client.head_manifest(route.repository, tag)
                return await self._point(route, tag, found.digest)
            return await self._fetch(route, tag, tag)
        except RemoteNotFound:
            raise _unknown(tag) from None
        except RemoteError as error:
            raise upstream_failure(route.upstream, error) from None

    async def _revalidate(self, route: CacheRoute, tag: str, cached: CachedTag) -> ServedManifest:
        upstream = route.upstream
        try:
            found = await upstream.client.head_manifest(route.repository, tag)
            if str(found.digest) == cached.digest:
                await self._meta.confirm_cached_tag(route.local, tag, cached.digest, time.time())
                metrics.REVALIDATIONS.labels(upstream.name, "unchanged").inc()
                self._pulls.tag(route.local, tag)
                return ServedManifest(ManifestRef(cached.digest, cached.media_type, cached.size), None, "hit")
            served = await self._point(route, tag, found.digest)
        except RemoteNotFound:
            metrics.REVALIDATIONS.labels(upstream.name, "gone").inc()
            await self._meta.forget_cached_tag(route.local, tag)
            raise _unknown(tag) from None
        except RemoteError as error:
            metrics.REVALIDATIONS.labels(upstream.name, "failed").inc()
            return self._stale(route, tag, cached, error)
        metrics.REVALIDATIONS.labels(upstream.name, "changed").inc()
        return served

    async def _point(self, route: CacheRoute, tag: str, digest: Digest) -> ServedManifest:
        """Cache `tag` as pointing at `digest`, fetching that manifest only if the cache lacks it."""
        ref = await self._meta.manifest_by_digest(route.local, str(digest))
        body = None if ref is None else await self._meta.manifest_body(route.local, str(digest))
        if ref is None or body is None:
            return await self._fetch(route, digest, tag)
        await self._store(route, digest, ref.media_type, body, tag)
        return ServedManifest(ref, body, "miss")

    async def _fetch(self, route: CacheRoute, reference: str | Digest, tag: str | None) -> ServedManifest:
        """GET the manifest upstream and store it (tagged `tag`, if given)."""
        try:
            fetched = await route.upstream.client.get_manifest(route.repository, reference, max_bytes=self._max_bytes)
        except RemoteNotFound:
            raise _unknown(str(reference)) from None
        except RemoteError as error:
            raise upstream_failure(route.upstream, error) from None
        await self._store(route, fetched.digest, fetched.media_type, fetched.body, tag)
        return ServedManifest(
            ManifestRef(str(fetched.digest), fetched.media_type, len(fetched.body)), fetched.body, "miss"
        )

    async def _store(self, route: CacheRoute, digest: Digest, media_type: str, body: bytes, tag: str | None) -> None:
        try:
            manifest = NewManifest.of(body, media_type, str(digest))
        except RegistryError as invalid:
            raise Unavailable(
                f"upstream {route.upstream.name} served a manifest dockyard cannot store: {invalid.message}", 502
            ) from None
        stored = dataclasses.replace(manifest, media_type=media_type)  # served as upstream labels it
        entries = self._events.entries(Filled(route.local, str(digest), media_type, len(body), tag))
        await self._meta.store_cached_manifest(route.local, stored, tag, time.time(), entries)
        self._events.written(entries)

    def _stale(self, route: CacheRoute, tag: str, cached: CachedTag, error: RemoteError) -> ServedManifest:
        age = time.time() - cached.checked_at
        if age > route.upstream.settings.max_stale_seconds:
            raise upstream_failure(route.upstream, error)
        text = (
            f"upstream {route.upstream.name} failed ({_reason(error)}): serving {route.repository}:{tag} "
            f"as last confirmed {age:.0f} s ago"
        )
        ref = ManifestRef(cached.digest, cached.media_type, cached.size)
        self._pulls.tag(route.local, tag)
        return ServedManifest(ref, None, "stale", warning(text))
