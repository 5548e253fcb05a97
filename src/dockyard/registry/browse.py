"""Browsing for the web UI: paged listings with sizes and push times, and manifest details.

Listings are answered by the metadata store's indexed queries; a manifest's details come from
its stored bytes, its config blob and the referrers edges, never from walking storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.events.envelope import Origin
from dockyard.meta.browse import Browsing, ListQuery, Page, RepositorySummary, TagSummary
from dockyard.meta.manifests import Manifests
from dockyard.meta.referrers import Referrers
from dockyard.meta.tags import Tags
from dockyard.registry import inspect
from dockyard.registry.blobs import BlobService
from dockyard.registry.manifests import ManifestService, TagMoves

_CONFIG_MAX_BYTES = 1 << 20
_TAGS_SHOWN = 100
# Referrers of referrers (a signature of an SBOM of an image) are followed this deep, and no
# further than this many manifests in all, so that a pathological graph cannot stall a request.
_REFERRER_DEPTH = 4
_REFERRER_NODES = 200


class BrowseStore(Browsing, Manifests, Tags, Referrers, Protocol):
    """The UI's listings, and what a manifest's page shows beside its bytes: its tags, which
    children of an index are present, its referrers."""


class BrowseService:
    def __init__(self, meta: BrowseStore, manifests: ManifestService, blobs: BlobService, max_page: int):
        self._meta = meta
        self._manifests = manifests
        self._blobs = blobs
        self._max_page = max_page

    def _capped(self, query: ListQuery) -> ListQuery:
        return replace(query, limit=max(1, min(query.limit, self._max_page)))

    async def repositories(
        self, query: ListQuery, visible: Callable[[str], bool] | None = None
    ) -> Page[RepositorySummary]:
        """`visible`: the repositories the caller may see, when not all."""
        return await self._meta.browse_repositories(self._capped(query), visible)

    async def tags(self, repository: str, query: ListQuery) -> Page[TagSummary]:
        page = await self._meta.browse_tags(repository, self._capped(query))
        if page is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": repository})
        return page

    async def manifest(self, repository: str, reference: str, host: str) -> dict[str, Any]:
        """Everything the manifest page shows; `host` is how clients name this registry."""
        ref, body = await self._manifests.fetch(repository, reference)
        document = json.loads(body)
        kind = inspect.kind_of(document, ref.media_type)
        tags = await self._meta.tags_of_manifest(repository, ref.digest, _TAGS_SHOWN)
        tag = reference if ":" not in reference else (tags[0] if tags else None)
        view: dict[str, Any] = {
            "repository": repository,
            "digest": ref.digest,
            "mediaType": ref.media_type,
            "artifactType": document.get("artifactType"),
            "kind": kind,
            "size": ref.size,
            "tags": tags,
            "annotations": document.get("annotations") or {},
            "subject": inspect.descriptor_view(document.get("subject")) or None,
            "pull": inspect.pull_commands(host, repository, tag, ref.digest, kind),
            "referrers": await self._referrer_groups(repository, ref.digest, _REFERRER_DEPTH, [0]),
        }
        if ref.media_type in mediatypes.INDEXES:
            view["manifests"] = await self._children(repository, document.get("manifests"))
        else:
            view["config"] = await self._config(repository, document.get("config"))
            view["layers"] = [inspect.descriptor_view(layer) for layer in document.get("layers") or []]
        return view

    async def _children(self, repository: str, children: Any) -> list[dict[str, Any]]:
        """An index's entries, each marked with whether this repository holds it (indexes may be sparse)."""
        views = []
        for child in children if isinstance(children, list) else []:
            view = inspect.descriptor_view(child)
            digest = view.get("digest")
            present = isinstance(digest, str) and await self._meta.manifest_by_digest(repository, digest) is not None
            views.append({**view, "present": present})
        return views

    async def _config(self, repository: str, descriptor: Any) -> dict[str, Any]:
        view = inspect.descriptor_view(descriptor)
        if view.get("mediaType") not in inspect.IMAGE_CONFIGS or not isinstance(view.get("digest"), str):
            return view
        raw = await self._blobs.read_small(repository, Digest.parse(view["digest"]), _CONFIG_MAX_BYTES)
        return {**view, **inspect.config_view(raw)}

    async def _referrer_groups(self, repository: str, subject: str, depth: int, seen: list[int]) -> list[Any]:
        """Referrers of `subject` grouped by artifact type, each with its own referrers."""
        if depth == 0 or seen[0] >= _REFERRER_NODES:
            return []
        groups: dict[str, list[dict[str, Any]]] = {}
        for referrer in await self._meta.referrers(repository, subject, None):
            seen[0] += 1
            if seen[0] > _REFERRER_NODES:
                break
            groups.setdefault(referrer.artifact_type or "", []).append(
                {
                    "digest": referrer.digest,
                    "mediaType": referrer.media_type,
                    "size": referrer.size,
                    "annotations": json.loads(referrer.annotations_json) if referrer.annotations_json else {},
                    "referrers": await self._referrer_groups(repository, referrer.digest, depth - 1, seen),
                }
            )
        return [{"artifactType": kind, "manifests": found} for kind, found in sorted(groups.items())]

    async def delete(self, repository: str, reference: str, tag_moves: TagMoves, origin: Origin | None = None) -> None:
        await self._manifests.delete(repository, reference, tag_moves=tag_moves, origin=origin)
