"""Copying what a rule selects from one side to the other, exactly.

Manifests go byte for byte (their digests unchanged), an index with all its children, children and
blobs before what references them. A blob is sent only when the other side lacks it: asked with a
HEAD first, then mounted from another repository there that holds it, and only then uploaded (in
chunks when large, resumed after a failure). Referrers follow their subjects when the rule says so.
A tag is copied with every other tag of its digest (harbor#15957), and nothing the filter does not
select is touched on either side.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from dockyard.core.manifest import parse_manifest
from dockyard.replication.rules import Rule
from dockyard.replication.sides import Manifest, Side
from dockyard.replication.throttle import Throttle

T = TypeVar("T")
R = TypeVar("R")

# Referrers of referrers (a signature of an SBOM) are followed this deep.
_REFERRER_DEPTH = 3
# Index nesting followed at most (content addressing rules out cycles; this bounds hostile depth).
_INDEX_DEPTH = 8
_RESOLVE_CONCURRENCY = 16
# The tags of the referrers fallback (`sha256-<hex>`), which registries without the referrers API
# keep for the subject's referrers: maintained by the copy of each referrer, never deleted as stale.
_REFERRERS_TAG = re.compile(r"[a-z0-9]+-[0-9a-f]{32,}")


class Progress(Protocol):
    def planned(self, images: int) -> None: ...

    def image_done(self) -> None: ...

    def blob_done(self) -> None: ...

    def bytes_moved(self, count: int) -> None: ...


class Silent:
    def planned(self, images: int) -> None:
        pass

    def image_done(self) -> None:
        pass

    def blob_done(self) -> None:
        pass

    def bytes_moved(self, count: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Image:
    """A manifest to copy with the tags that point at it on the source side."""

    source: str
    destination: str
    digest: str
    tags: tuple[str, ...]


@dataclass
class Plan:
    images: list[Image] = field(default_factory=list)
    deletions: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)
    """(repository there, tag, digests still tagged here, which a deletion must spare)."""
    unchanged: list[Image] = field(default_factory=list)
    """Selected manifests the other side already holds under the same tags (their referrers may not)."""


@dataclass
class Tally:
    manifests: int = 0
    blobs: int = 0
    bytes: int = 0
    mounts: int = 0
    deletions: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Node:
    manifest: Manifest
    blobs: tuple[tuple[str, int], ...]


async def bounded(limit: int, items: Iterable[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
    """`work` over the items, at most `limit` at once; the first failure is raised once all ended."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


class Copier:
    def __init__(
        self,
        rule: Rule,
        source: Side,
        destination: Side,
        concurrency: int,
        *,
        progress: Progress | None = None,
        throttle: Throttle | None = None,
    ):
        self.rule = rule
        self.source = source
        self.destination = destination
        self.tally = Tally()
        self._concurrency = concurrency
        self._progress = progress or Silent()
        self._throttle = throttle or Throttle(rule.settings.max_bytes_per_second)
        self._blobs: dict[tuple[str, str], asyncio.Task[None]] = {}

    # Planning: what differs between the two sides.

    async def plan(self) -> Plan:
        plan = Plan()
        rule = self.rule
        async for repository in self.source.repositories(rule.covers, rule.literal_repositories):
            await self.plan_repository(repository, plan)
        return plan

    async def plan_repository(self, repository: str, plan: Plan) -> None:
        source, destination, rule = self.source, self.destination, self.rule
        there_name = rule.destination(repository)
        tags = await source.tags(repository)
        resolved = await bounded(_RESOLVE_CONCURRENCY, tags, lambda tag: source.resolve(repository, tag))
        digests = {tag: digest for tag, digest in zip(tags, resolved, strict=True) if digest is not None}
        chosen = {digest for tag, digest in digests.items() if rule.selects(tag)}
        wanted = {tag: digest for tag, digest in digests.items() if digest in chosen}
        present = set(await destination.tags(there_name))
        shared = [tag for tag in wanted if tag in present]
        current = await bounded(_RESOLVE_CONCURRENCY, shared, lambda tag: destination.resolve(there_name, tag))
        there = dict(zip(shared, current, strict=True))
        by_digest: dict[str, list[str]] = {}
        for tag, digest in wanted.items():
            by_digest.setdefault(digest, [])
            if there.get(tag) != digest:
                by_digest[digest].append(tag)
        for digest, moved in sorted(by_digest.items()):
            all_tags = tuple(sorted(tag for tag, d in wanted.items() if d == digest))
            image = Image(repository, there_name, digest, all_tags)
            (plan.images if moved else plan.unchanged).append(image)
        if rule.settings.delete:
            await self._plan_deletions(there_name, present, digests, chosen, plan)

    async def _plan_deletions(
        self, there_name: str, present: set[str], digests: dict[str, str], chosen: set[str], plan: Plan
    ) -> None:
        """Tags the other side has and the source no longer has, of those the rule copies: the
        selected ones and those that came along with a selected tag of their digest."""
        gone = sorted(tag for tag in present if tag not in digests and not _REFERRERS_TAG.fullmatch(tag))
        unselected = [tag for tag in gone if not self.rule.selects(tag)]
        resolved = await bounded(
            _RESOLVE_CONCURRENCY, unselected, lambda tag: self.destination.resolve(there_name, tag)
        )
        came_along = {tag for tag, digest in zip(unselected, resolved, strict=True) if digest in chosen}
        keep = frozenset(digests.values())
        plan.deletions.extend((there_name, tag, keep) for tag in gone if self.rule.selects(tag) or tag in came_along)

    # Copying.

    async def execute(self, plan: Plan) -> Tally:
        """Copy the plan's images (each failure noted, the others go on), then its deletions."""
        self._progress.planned(len(plan.images))
        await bounded(self._concurrency, plan.images, self._noting(self.copy_image))
        if self.rule.settings.referrers:
            await bounded(self._concurrency, plan.unchanged, self._noting(self.copy_referrers_of))
        for deletion in plan.deletions:
            await self._noting(self._delete)(deletion)
        return self.tally

    async def _delete(self, deletion: tuple[str, str, frozenset[str]]) -> None:
        repository, tag, keep = deletion

        async def still_tagged(digest: str) -> bool:
            return digest in keep

        await self.remove_tag(repository, tag, still_tagged)

    def _noting(self, work: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        async def noted(item: T) -> None:
            try:
                await work(item)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one image's failure is reported, the run goes on
                self.tally.errors.append(f"{describe(item)}: {error}")

        return noted

    async def copy_image(self, image: Image) -> None:
        """The manifest with its children, blobs and (by the rule) referrers, under its tags."""
        nodes = await self._collect(image.source, image.digest, 0)
        blobs = {digest: size for node in nodes for digest, size in node.blobs}
        await bounded(
            self._concurrency, blobs.items(), lambda blob: self._ensure_blob(image.source, image.destination, *blob)
        )
        for node in nodes[:-1]:
            if not await self.destination.has_manifest(image.destination, node.manifest.digest):
                await self.destination.put_manifest(image.destination, node.manifest, ())
                self.tally.manifests += 1
        await self.destination.put_manifest(image.destination, nodes[-1].manifest, image.tags)
        self.tally.manifests += 1
        self._progress.image_done()
        if self.rule.settings.referrers:
            for node in nodes:
                await self._copy_referrers(image.source, image.destination, node.manifest.digest, 0)

    async def copy_referrers_of(self, image: Image) -> None:
        await self._copy_referrers(image.source, image.destination, image.digest, 0)

    async def _copy_referrers(self, source: str, destination: str, subject: str, depth: int) -> None:
        if depth >= _REFERRER_DEPTH:
            return
        for referrer in await self.source.referrers(source, subject):
            if await self.destination.has_manifest(destination, referrer):
                await self._copy_referrers(source, destination, referrer, depth + 1)
            else:
                await self.copy_image(Image(source, destination, referrer, ()))

    async def _collect(self, repository: str, digest: str, depth: int) -> list[_Node]:
        """The manifest and everything it lists, children before their index."""
        manifest = await self.source.manifest(repository, digest)
        parsed = parse_manifest(manifest.body, manifest.media_type)
        if parsed.children and depth >= _INDEX_DEPTH:
            raise ValueError(f"{digest}: indexes nested deeper than {_INDEX_DEPTH}")
        nodes: list[_Node] = []
        children = await bounded(
            self._concurrency, parsed.children, lambda child: self._collect(repository, str(child.digest), depth + 1)
        )
        for child_nodes in children:
            nodes.extend(child_nodes)
        nodes.append(_Node(manifest, tuple((str(blob.digest), blob.size) for blob in parsed.blobs)))
        return nodes

    async def _ensure_blob(self, source: str, destination: str, digest: str, size: int) -> None:
        """Transfer a blob once per run however many images share it."""
        key = (destination, digest)
        task = self._blobs.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = self._blobs[key] = asyncio.ensure_future(self._transfer(source, destination, digest, size))
        await task

    async def _transfer(self, source: str, destination: str, digest: str, size: int) -> None:
        if await self.destination.blob_size(destination, digest) is not None:
            return
        holders = await self.source.holders(digest)
        candidates = [self.rule.destination(name) for name in holders if name != source and self.rule.covers(name)]
        if await self.destination.mount(destination, digest, candidates):
            self.tally.mounts += 1
            return
        await self.destination.write_blob(
            destination, digest, size, lambda offset: self._metered(self.source.read_blob(source, digest, offset))
        )
        self.tally.blobs += 1
        self.tally.bytes += size
        self._progress.blob_done()

    async def _metered(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in self._throttle.limit(chunks):
            self._progress.bytes_moved(len(chunk))
            yield chunk

    # Deleting.

    async def remove_tag(self, repository: str, tag: str, still_tagged: Callable[[str], Awaitable[bool]]) -> None:
        """Remove a tag on the destination side. Where tags cannot be removed alone (Distribution),
        its manifest is deleted instead, unless `still_tagged` says the source still tags it."""
        if await self.destination.delete_tag(repository, tag):
            self.tally.deletions += 1
            return
        digest = await self.destination.resolve(repository, tag)
        if digest is not None and not await still_tagged(digest):
            await self.destination.delete_manifest(repository, digest)
            self.tally.deletions += 1

    async def remove_manifest(self, repository: str, digest: str) -> None:
        if await self.destination.has_manifest(repository, digest):
            await self.destination.delete_manifest(repository, digest)
            self.tally.deletions += 1

    async def close(self) -> None:
        for task in self._blobs.values():
            task.cancel()


def describe(item: object) -> str:
    if isinstance(item, Image):
        tags = f":{','.join(item.tags)}" if item.tags else ""
        return f"{item.source}{tags}@{item.digest}"
    if isinstance(item, tuple):
        return f"deleting {item[0]}:{item[1]}"
    return str(item)
