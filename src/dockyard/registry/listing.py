"""Listing: tags of a repository, the catalog of repositories, and the referrers of a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import Descriptor
from dockyard.meta.catalog import Catalog
from dockyard.meta.referrers import Referrers
from dockyard.meta.tags import Tags
from dockyard.proxy import PullThroughCache
from dockyard.proxy.listing import upstream_referrers, upstream_tags


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    more: bool
    """Whether entries follow the last item: the caller then links to the next page."""


class ListingStore(Tags, Catalog, Referrers, Protocol):
    """What the listing endpoints page through: tags, repository names, referrers."""


class ListingService:
    def __init__(self, meta: ListingStore, max_page: int, cache: PullThroughCache | None = None):
        self._meta = meta
        self._max_page = max_page
        self._proxy = cache

    def _limit(self, n: int | None) -> int:
        return self._max_page if n is None else min(n, self._max_page)

    async def tags(self, repository: str, n: int | None, last: str | None) -> Page:
        """A page of tags; a cache repository's as upstream has them, or the cached ones when
        upstream cannot be asked."""
        limit = self._limit(n)
        route = None if self._proxy is None else self._proxy.route(repository)
        upstream = None if route is None else await upstream_tags(route)
        if upstream is not None:
            following = [tag for tag in upstream if last is None or tag > last]
            return Page(following[:limit], len(following) > limit)
        tags = await self._meta.list_tags(repository, limit + 1, last)
        if tags is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": repository})
        return Page(tags[:limit], len(tags) > limit)

    async def repositories(self, n: int | None, last: str | None, visible: Callable[[str], bool] | None = None) -> Page:
        """A page of repository names; with `visible`, of those it accepts (the caller may pull),
        read in batches until the page is full so that paging stays exact."""
        limit = self._limit(n)
        if visible is None:
            names = await self._meta.list_repositories(limit + 1, last)
            return Page(names[:limit], len(names) > limit)
        shown: list[str] = []
        batch = max(limit + 1, 100)
        while len(shown) <= limit:
            names = await self._meta.list_repositories(batch, last)
            shown.extend(name for name in names if visible(name))
            if len(names) < batch:
                break
            last = names[-1]
        return Page(shown[:limit], len(shown) > limit)

    async def referrers(self, repository: str, subject: Digest, artifact_type: str | None) -> bytes:
        """An OCI image index of the manifests whose subject is `subject` (empty if there are none);
        a cache repository's are the cached ones with upstream's (when it answers) added."""
        descriptors: list[dict[str, Any]] = []
        # A filter that is no media type matches nothing stored (and a database may refuse it: NUL).
        unmatchable = artifact_type is not None and not mediatypes.is_media_type(artifact_type)
        for referrer in [] if unmatchable else await self._meta.referrers(repository, str(subject), artifact_type):
            descriptor: dict[str, Any] = {
                "mediaType": referrer.media_type,
                "digest": referrer.digest,
                "size": referrer.size,
            }
            if referrer.artifact_type:
                descriptor["artifactType"] = referrer.artifact_type
            if referrer.annotations_json:
                descriptor["annotations"] = json.loads(referrer.annotations_json)
            descriptors.append(descriptor)
        route = None if self._proxy is None else self._proxy.route(repository)
        if route is not None:
            known = {descriptor["digest"] for descriptor in descriptors}
            for found in await upstream_referrers(route, subject, artifact_type) or []:
                if str(found.digest) not in known:
                    descriptors.append(_descriptor(found))
        index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": descriptors}
        return json.dumps(index, separators=(",", ":")).encode()


def _descriptor(found: Descriptor) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"mediaType": found.media_type, "digest": str(found.digest), "size": found.size}
    if found.artifact_type:
        descriptor["artifactType"] = found.artifact_type
    if found.annotations:
        descriptor["annotations"] = found.annotations
    return descriptor
