"""The pull-through cache's state: cached tags and when upstream last confirmed them, holds that keep
cached content from garbage collection while it is pulled, and the leases of fills in progress.

Cached manifests, tags and blob links are ordinary rows of their cache repositories (so listings,
the UI and GC see them as any other); only what a cache adds is here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.meta.manifests import ManifestRef, NewManifest
from dockyard.meta.outbox import OutboxEntry


@dataclass(frozen=True, slots=True)
class CachedTag:
    digest: str
    media_type: str
    size: int
    checked_at: float
    """When upstream last confirmed that the tag points at `digest` (epoch seconds)."""


@dataclass(frozen=True, slots=True)
class FillLease:
    """Who downloads a missed manifest or blob from upstream, and where the bytes go meanwhile."""

    key: str
    owner: str
    upload_id: str
    size: int | None
    """The blob's size once upstream has answered; None before."""
    expires_at: float


@dataclass(frozen=True, slots=True)
class CacheItem:
    """Cached content eviction may release: a tag, or a hold on a manifest or blob."""

    repository: str
    tag: str | None
    """Set for a tag (pointing at `digest`); None for a hold on `digest`."""
    digest: str
    pulled_at: float
    size: int
    """The bytes it keeps: a manifest with the blobs it references, or a blob."""


class CacheState(Protocol):
    @abstractmethod
    async def cached_tag(self, repository: str, tag: str, *, fresh: bool = False) -> CachedTag | None:
        """The tag of a cache repository with its last confirmation; answered from memory while no
        process has written since (the manifest lookups' change token), unless `fresh` (after
        waiting for another instance, whose change may not have been announced yet)."""

    @abstractmethod
    async def cached_manifest(self, repository: str, digest: str) -> ManifestRef | None:
        """The manifest as the store has it now (never from memory)."""

    @abstractmethod
    async def repository_exists(self, repository: str) -> bool:
        """Whether anything was ever stored under this name here (cached like `cached_tag`)."""

    @abstractmethod
    async def store_cached_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tag: str | None,
        checked_at: float,
        outbox: Sequence[OutboxEntry] = (),
    ) -> None:
        """Store a manifest fetched from upstream (its blobs need not be here yet) with a hold on it,
        and point `tag` at it as confirmed at `checked_at`, in one transaction."""

    @abstractmethod
    async def confirm_cached_tag(self, repository: str, tag: str, digest: str, checked_at: float) -> bool:
        """Upstream says the tag still points at `digest`: note when; False if the tag moved meanwhile."""

    @abstractmethod
    async def forget_cached_tag(self, repository: str, tag: str) -> None:
        """Upstream no longer has the tag: delete it, keeping its manifest held for pulls by digest."""

    @abstractmethod
    async def take_fill_lease(self, key: str, owner: str, upload_id: str, seconds: float) -> FillLease:
        """Lease `key` to `owner` unless another holds an unexpired lease; the lease as it now stands."""

    @abstractmethod
    async def fill_lease(self, key: str) -> FillLease | None: ...

    @abstractmethod
    async def renew_fill_lease(self, key: str, owner: str, seconds: float, size: int | None = None) -> bool:
        """Extend the owner's lease (and note the size); False when it is no longer the owner's."""

    @abstractmethod
    async def release_fill_lease(self, key: str, owner: str) -> None: ...

    @abstractmethod
    async def finish_blob_fill(
        self, lease: FillLease, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        """The fill's upload is committed as blob `digest`: link and hold it in the repository, end the
        upload session and the lease, in one transaction."""

    @abstractmethod
    async def link_cached_blob(self, repository: str, digest: str) -> bool:
        """Link and hold a blob the registry holds already (another repository's); False when it is
        gone (garbage collection took it since the caller looked)."""

    @abstractmethod
    async def record_cache_pulls(
        self, tags: Sequence[tuple[str, str, float]], digests: Sequence[tuple[str, str, float]]
    ) -> None:
        """(repository, tag or digest, when) pulls of cached content; a later time wins. Holds that are
        gone stay gone."""

    @abstractmethod
    async def stale_cache_items(self, prefix: str, pulled_before: float, limit: int) -> list[CacheItem]:
        """Tags and holds in the cache repositories under `prefix/` last pulled before then."""

    @abstractmethod
    async def cache_items_by_pull(self, prefix: str, limit: int) -> list[CacheItem]:
        """The least recently pulled tags and holds under `prefix/`, oldest first."""

    @abstractmethod
    async def cached_bytes(self, prefix: str) -> int:
        """Bytes the tags and holds under `prefix/` keep (manifests, the blobs they reference, held
        blobs; each blob once); released content no longer counts, though GC may not have freed it yet."""

    @abstractmethod
    async def release_cache_items(self, items: Sequence[CacheItem]) -> int:
        """Delete those tags (still pointing where they did) and holds (still not pulled since);
        garbage collection frees what nothing else holds. How many were deleted."""
