"""What the web UI lists: repositories and tags with their sizes and push times.

The SQL is written once for every engine (`?` placeholders, no engine-specific functions). Each
listing picks one page in an inner query that touches only indexed columns, and computes the
per-row aggregates (tag counts, sizes) in the outer query, for the rows of that page only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    name: str
    pushed_at: float | None
    tag_count: int
    size: int
    """Bytes of the blobs linked into the repository, each blob counted once."""


@dataclass(frozen=True, slots=True)
class TagSummary:
    name: str
    digest: str
    media_type: str
    size: int
    """Bytes of the manifest itself."""
    pushed_at: float
    total_size: int
    """The manifest and every blob it (or, for an index, its children) references, each counted once."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    total: int
    """Entries matching the filter, on every page."""
    items: list[T]


class Order(Enum):
    """Orders of a listing; `PUSHED` is newest first."""

    NAME = "name"
    NAME_DESC = "-name"
    PUSHED = "pushed"
    PUSHED_OLDEST = "-pushed"


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Which page of a listing: entries containing `search` (any case), in `order`."""

    search: str
    order: Order
    limit: int
    offset: int


def like_pattern(substring: str) -> str:
    """A LIKE pattern matching names that contain `substring` literally."""
    escaped = substring.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ESCAPE = "ESCAPE '\\'"

# The latest of a repository's manifest pushes and tag updates (a re-tag is a push too).
_PUSHED = """COALESCE((SELECT MAX(t.updated_at) FROM tags t WHERE t.repository_id = r.id), 0)"""
_CREATED = """COALESCE((SELECT MAX(m.created_at) FROM manifests m WHERE m.repository_id = r.id), 0)"""
_LAST_PUSH = f"CASE WHEN {_PUSHED} > {_CREATED} THEN {_PUSHED} ELSE {_CREATED} END"

_REPOSITORY_ORDER = {
    Order.NAME: "name",
    Order.NAME_DESC: "name DESC",
    Order.PUSHED: "pushed_at DESC, name",
    Order.PUSHED_OLDEST: "pushed_at, name",
}

_COUNT_REPOSITORIES = f"SELECT COUNT(*) FROM repositories WHERE name LIKE ? {_ESCAPE}"  # noqa: S608 - constants only


def _repository_candidates(order: Order, paged: bool) -> str:
    """Parameters: pattern, then limit and offset when paged."""
    by = _REPOSITORY_ORDER[order]
    # Only constants of this module are interpolated; every value is a parameter.
    return f"""
        SELECT r.id, r.name, {_LAST_PUSH} AS pushed_at FROM repositories r
        WHERE r.name LIKE ? {_ESCAPE} ORDER BY {by} {"LIMIT ? OFFSET ?" if paged else ""}"""  # noqa: S608


def _repository_aggregates(count: int) -> str:
    """Tag count and deduplicated size of `count` repositories given by id."""
    placeholders = ", ".join("?" * count)
    return f"""
        SELECT r.id, (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id),
            (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = r.id)
        FROM repositories r WHERE r.id IN ({placeholders})"""  # noqa: S608


Fetch = Callable[[str, Sequence[Any]], Awaitable[list[tuple[Any, ...]]]]
"""Runs one read-only statement with `?` parameters on the store's engine and returns its rows."""


async def repositories_page(
    fetch: Fetch, query: ListQuery, visible: Callable[[str], bool] | None
) -> Page[RepositorySummary]:
    """One page of repositories. With `visible` (the caller's pull rights), the names are filtered
    before paging; the names and push times of the matching repositories are all read then, which
    costs a few milliseconds per 10,000."""
    pattern, order, limit, offset = like_pattern(query.search), query.order, query.limit, query.offset
    if visible is None:
        ((total,),) = await fetch(_COUNT_REPOSITORIES, (pattern,))
        rows = await fetch(_repository_candidates(order, paged=True), (pattern, limit, offset))
    else:
        candidates = [
            row for row in await fetch(_repository_candidates(order, paged=False), (pattern,)) if visible(row[1])
        ]
        total, rows = len(candidates), candidates[offset : offset + limit]
    if not rows:
        return Page(total, [])
    ids = [row[0] for row in rows]
    aggregates = {row[0]: row[1:] for row in await fetch(_repository_aggregates(len(ids)), ids)}
    return Page(total, [RepositorySummary(name, pushed or None, *aggregates[id_]) for id_, name, pushed in rows])


_TAG_ORDER = {
    Order.NAME: "name",
    Order.NAME_DESC: "name DESC",
    Order.PUSHED: "updated_at DESC, name",
    Order.PUSHED_OLDEST: "updated_at, name",
}

_REPOSITORY_ID = "SELECT id FROM repositories WHERE name = ?"
_COUNT_TAGS = f"SELECT COUNT(*) FROM tags WHERE repository_id = ? AND LOWER(name) LIKE ? {_ESCAPE}"  # noqa: S608

# Blobs of the manifest and of its children (for an index), each once.
_CONTENT_SIZE = """
    (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN (
        SELECT mb.blob_digest FROM manifest_blobs mb
        WHERE mb.repository_id = p.repository_id AND mb.manifest_digest = p.digest
        UNION
        SELECT mb.blob_digest FROM manifest_children mc JOIN manifest_blobs mb
            ON mb.repository_id = mc.repository_id AND mb.manifest_digest = mc.child_digest
        WHERE mc.repository_id = p.repository_id AND mc.parent_digest = p.digest))"""


def _tags_page(order: Order) -> str:
    """Parameters: repository id, pattern, limit, offset."""
    by = _TAG_ORDER[order]
    return f"""
        SELECT p.name, p.digest, m.media_type, m.size, p.updated_at, m.size + {_CONTENT_SIZE}
        FROM (SELECT repository_id, name, digest, updated_at FROM tags
              WHERE repository_id = ? AND LOWER(name) LIKE ? {_ESCAPE} ORDER BY {by} LIMIT ? OFFSET ?) p
        JOIN manifests m ON m.repository_id = p.repository_id AND m.digest = p.digest
        ORDER BY {by}"""  # noqa: S608


_TAGS_OF_MANIFEST = """SELECT t.name FROM repositories r JOIN tags t ON t.repository_id = r.id
    WHERE r.name = ? AND t.digest = ? ORDER BY t.name LIMIT ?"""


async def tags_page(fetch: Fetch, repository: str, query: ListQuery) -> Page[TagSummary] | None:
    found = await fetch(_REPOSITORY_ID, (repository,))
    if not found:
        return None
    repository_id, pattern = found[0][0], like_pattern(query.search)
    ((total,),) = await fetch(_COUNT_TAGS, (repository_id, pattern))
    rows = await fetch(_tags_page(query.order), (repository_id, pattern, query.limit, query.offset))
    return Page(total, [TagSummary(*row) for row in rows])


async def tags_of_manifest(fetch: Fetch, repository: str, digest: str, limit: int) -> list[str]:
    return [name for (name,) in await fetch(_TAGS_OF_MANIFEST, (repository, digest, limit))]
