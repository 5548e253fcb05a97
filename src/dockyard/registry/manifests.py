"""Pushing, pulling and deleting manifests and tags."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from typing import Protocol

from dockyard.audit.trail import DELETE, PUSH, change_entries
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.names import parse_reference, validate_tag
from dockyard.events.envelope import Origin, Target
from dockyard.events.notifier import SILENT, Notifier
from dockyard.meta.manifests import ManifestRef, Manifests, MissingBlobs, NewManifest, TagMoveRefused
from dockyard.meta.records import WriteRecord
from dockyard.meta.tags import Tags
from dockyard.proxy import CacheNote, CacheRoute, PullThroughCache
from dockyard.registry import metrics
from dockyard.registry.pulls import PullLog


class TagMoves(Enum):
    """What the caller may do to tags that already point at another manifest."""

    ALLOWED = "allowed"
    """Move them unless an immutable-tags rule covers them (auth off, or no explicit rule)."""
    REFUSED = "refused"
    """Never: the policy denies `overwrite`."""
    FORCED = "forced"
    """Always: an explicit rule grants `overwrite`, the one thing that beats immutability."""


@dataclass(frozen=True, slots=True)
class ImmutableTagRule:
    repository: str
    tags: str

    def covers(self, repository: str, tag: str) -> bool:
        return fnmatchcase(repository, self.repository) and fnmatchcase(tag, self.tags)


@dataclass(slots=True)  # not frozen: one per pull, and a frozen dataclass costs more to build
class PulledManifest:
    ref: ManifestRef
    body: bytes = b""
    """Empty for a HEAD."""
    cache: CacheNote | None = None
    """Set when a cache repository answered."""
    warning: str | None = None
    """A `Warning` header value (served stale)."""


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    subject: str | None
    tags: tuple[str, ...]


class _BodyCache:
    """Manifest bytes by digest. Content never changes for a digest, so entries never go stale;
    whether a repository still holds the manifest is always asked of the metadata store."""

    def __init__(self, max_bytes: int):
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    def get(self, digest: str) -> bytes | None:
        body = self._entries.get(digest)
        if body is not None:
            self._entries.move_to_end(digest)
        return body

    def put(self, digest: str, body: bytes) -> None:
        if digest in self._entries or len(body) > self._max_bytes // 8:
            return
        self._entries[digest] = body
        self._bytes += len(body)
        while self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)


def _unknown(reference: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"reference": reference[:200]})


@functools.lru_cache(maxsize=4096)
def _tag_of(reference: str) -> str | None:
    """The tag a read names, or None for a digest (which reads as the reference it was parsed from).

    Pulls repeat the same references, so the parse (for a digest, two regular expressions and a
    frozen object) is remembered. Nothing can be stored under a reference that is neither a tag nor
    a digest: to a read it is simply unknown (the conformance suite asks for 404 here); that is
    raised, and not remembered."""
    try:
        target = parse_reference(reference)
    except RegistryError:
        raise _unknown(reference) from None
    return None if isinstance(target, Digest) else target


class ManifestStore(Manifests, Tags, Protocol):
    """Manifests and the tags that point at them."""


class ManifestService:
    def __init__(
        self,
        meta: ManifestStore,
        allow_missing_blobs: bool = False,
        *,
        notifier: Notifier = SILENT,
        cache_bytes: int = 64 << 20,
        immutable_tags: Sequence[ImmutableTagRule] = (),
        pulls: PullLog | None = None,
        cache: PullThroughCache | None = None,
    ):
        self._meta = meta
        self._proxy = cache
        self._notifier = notifier
        self._pulls = pulls
        self._allow_missing_blobs = allow_missing_blobs
        self._cache = _BodyCache(cache_bytes)
        self._immutable_tags = tuple(immutable_tags)

    def _may_move(self, repository: str, tags: Sequence[str], tag_moves: TagMoves) -> bool:
        if tag_moves is not TagMoves.ALLOWED:
            return tag_moves is TagMoves.FORCED
        return not any(rule.covers(repository, tag) for rule in self._immutable_tags for tag in tags)

    async def put(
        self,
        repository: str,
        reference: str,
        body: bytes,
        content_type: str | None,
        extra_tags: Sequence[str],
        *,
        tag_moves: TagMoves = TagMoves.ALLOWED,
        origin: Origin | None = None,
    ) -> StoredManifest:
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        target = parse_reference(reference)
        tags = [validate_tag(tag) for tag in extra_tags]
        if isinstance(target, Digest):
            digest = Digest.of(body, target.algorithm)
            if digest != target:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    "the manifest does not match the digest in the URL",
                    {"expected": str(target), "actual": str(digest)},
                )
        else:
            digest = Digest.of(body)
            tags.insert(0, target)
        record = NewManifest.of(body, content_type, str(digest))
        unique_tags = tuple(dict.fromkeys(tags))
        # Distribution sends one push event per tag (and one without a tag for a push by digest).
        pushed = [
            Target(repository, record.digest, record.media_type, len(body), tag) for tag in (unique_tags or (None,))
        ]
        outbox = self._notifier.entries("push", pushed, origin)
        try:
            await self._meta.put_manifest(
                repository,
                record,
                unique_tags,
                require_blobs=not self._allow_missing_blobs,
                may_move_tags=self._may_move(repository, unique_tags, tag_moves),
                records=[*outbox, *change_entries(PUSH, pushed, origin)],
            )
        except TagMoveRefused as refused:
            raise RegistryError(
                ErrorCode.DENIED,
                f"tag {refused.tags[0]!r} already points at another manifest and may not be moved: it is immutable "
                "here, or you lack the overwrite permission (pushing the same digest again is fine)",
                {"tags": refused.tags},
            ) from None
        except MissingBlobs as missing:
            raise RegistryError(
                ErrorCode.MANIFEST_BLOB_UNKNOWN,
                f"blob unknown to this repository: {missing.digests[0]}",
                {"digests": missing.digests},
            ) from None
        self._notifier.written(outbox)
        metrics.MANIFEST_PUSHES.labels(record.media_type).inc()
        return StoredManifest(record.digest, record.subject, unique_tags)

    async def resolve(self, repository: str, reference: str) -> ManifestRef:
        tag = _tag_of(reference)
        return self._found(repository, reference, tag, await self._lookup(repository, reference, tag))

    async def fetch(self, repository: str, reference: str) -> tuple[ManifestRef, bytes]:
        # resolve() inlined: a pull is this registry's hottest path, and one await less.
        tag = _tag_of(reference)
        ref = self._found(repository, reference, tag, await self._lookup(repository, reference, tag))
        body = self._cache.get(ref.digest)
        return ref, body if body is not None else await self._body(repository, ref.digest, reference)

    async def _body(self, repository: str, digest: str, reference: str) -> bytes:
        body = self._cache.get(digest)
        if body is None:
            body = await self._meta.manifest_body(repository, digest)
            if body is None:  # deleted between the two reads
                raise _unknown(reference)
            self._cache.put(digest, body)
        return body

    def _lookup(self, repository: str, reference: str, tag: str | None) -> Awaitable[ManifestRef | None]:
        """The store's lookup (not awaited here: no coroutine of our own around it)."""
        if tag is None:
            return self._meta.manifest_by_digest(repository, reference)
        return self._meta.manifest_by_tag(repository, tag)

    def _found(self, repository: str, reference: str, tag: str | None, found: ManifestRef | None) -> ManifestRef:
        if found is None:
            raise _unknown(reference)
        if tag is not None and self._pulls is not None:
            self._pulls.note(repository, tag)
        return found

    def pull(self, repository: str, reference: str, *, head: bool = False) -> Awaitable[PulledManifest]:
        """What a GET (or a HEAD, without the body) of a manifest answers; a cache repository's from
        the pull-through cache. Not a coroutine itself: a pull of a local repository awaits one
        coroutine, not two."""
        route = None if self._proxy is None else self._proxy.route(repository)
        if route is None:
            return self._pull_head(repository, reference) if head else self._pull_get(repository, reference)
        return self._pull_cached(route, repository, reference, head)

    async def _pull_head(self, repository: str, reference: str) -> PulledManifest:
        tag = _tag_of(reference)
        return PulledManifest(self._found(repository, reference, tag, await self._lookup(repository, reference, tag)))

    async def _pull_get(self, repository: str, reference: str) -> PulledManifest:
        ref, body = await self.fetch(repository, reference)
        return PulledManifest(ref, body)

    async def _pull_cached(self, route: CacheRoute, repository: str, reference: str, head: bool) -> PulledManifest:
        assert self._proxy is not None
        served = await self._proxy.manifests.get(route, reference, head=head)
        if head:
            body = b""
        elif served.body is not None:
            body = served.body
        else:
            body = await self._body(repository, served.ref.digest, reference)
        return PulledManifest(served.ref, body, CacheNote(route.upstream.name, served.outcome), served.warning)

    async def delete(
        self, repository: str, reference: str, *, tag_moves: TagMoves = TagMoves.ALLOWED, origin: Origin | None = None
    ) -> None:
        """By tag: remove the tag only. By digest: remove the manifest and the tags on it. A tag an
        immutable-tags rule covers is never removed either way, unless `tag_moves` is FORCED (an
        explicit overwrite grant, the one thing that beats immutability)."""
        if self._proxy is not None:
            self._proxy.refuse_writes(repository)
        target = parse_reference(reference)
        protected = None if tag_moves is TagMoves.FORCED else self._immutable_in(repository)
        if isinstance(target, Digest):
            deleted_target = Target(repository, digest=str(target))
        else:
            deleted_target = Target(repository, tag=target)
        outbox = self._notifier.entries("delete", [deleted_target], origin)
        records: list[WriteRecord] = [*outbox, *change_entries(DELETE, [deleted_target], origin)]
        try:
            if isinstance(target, Digest):
                deleted = await self._meta.delete_manifest(repository, str(target), records, protected=protected)
            else:
                if protected is not None and protected(target):
                    raise TagMoveRefused([target])
                deleted = await self._meta.delete_tag(repository, target, records)
        except TagMoveRefused as refused:
            raise RegistryError(
                ErrorCode.DENIED,
                f"tag {refused.tags[0]!r} is immutable here: it may not be deleted, nor the manifest it points at",
                {"tags": refused.tags},
            ) from None
        if not deleted:
            raise _unknown(reference)
        self._notifier.written(outbox)

    def _immutable_in(self, repository: str) -> Callable[[str], bool] | None:
        """Which tags of `repository` an immutable-tags rule covers; None when no rule covers any."""
        rules = [rule for rule in self._immutable_tags if fnmatchcase(repository, rule.repository)]
        if not rules:
            return None
        return lambda tag: any(rule.covers(repository, tag) for rule in rules)
