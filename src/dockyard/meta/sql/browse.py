"""The web UI's listings: repositories and tags with sizes and push times, one page at a time.

A page is picked by a query over indexed columns only (names; push times, which the 0005_ui
triggers keep on each repository's row); sizes are then computed for the rows of that page alone,
tag counts are read from the repositories' rows (0014_tag_counts) and the number of repositories
from the counts triggers keep (0016_repository_counts). Only a search reads every name of the
listing: a substring matches anywhere in a name, which no index serves.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.meta.browse import Browsing, ListQuery, Order, Page, RepositorySummary, TagSummary
from dockyard.meta.sql.core import SqlCore, placeholders


def like_pattern(substring: str) -> str:
    """A LIKE pattern matching names that contain `substring` literally."""
    escaped = substring.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ESCAPE = "ESCAPE '\\'"

_REPOSITORY_ORDER = {
    Order.NAME: "name",
    Order.NAME_DESC: "name DESC",
    # Ties in the direction of the time, so that the repositories_by_push index serves the order.
    Order.PUSHED: "pushed_at DESC, name DESC",
    Order.PUSHED_OLDEST: "pushed_at, name",
}

_NAME_MATCHES = f"name LIKE ? {_ESCAPE}"


def _count_repositories(search: bool) -> str:
    """Parameters: the pattern, when searching. Without one, the total the 0016_repository_counts
    triggers keep: counting every row cost 10 ms at 100,000 repositories on PostgreSQL."""
    if not search:
        return "SELECT COALESCE(SUM(total), 0) FROM repository_counts"
    return f"SELECT COUNT(*) FROM repositories WHERE {_NAME_MATCHES}"  # noqa: S608


def _repository_candidates(order: Order, paged: bool, search: bool) -> str:
    """Parameters: the pattern when searching, then limit and offset when paged."""
    by = _REPOSITORY_ORDER[order]
    # Only constants of this module are interpolated; every value is a parameter.
    return f"""
        SELECT id, name, pushed_at FROM repositories {"WHERE " + _NAME_MATCHES if search else ""}
        ORDER BY {by} {"LIMIT ? OFFSET ?" if paged else ""}"""  # noqa: S608


def _repository_aggregates(ids: list[int]) -> str:
    """Tag count and deduplicated size of the repositories of these ids."""
    return f"""
        SELECT r.id, r.tag_count,
            (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = r.id)
        FROM repositories r WHERE r.id IN ({placeholders(ids)})"""  # noqa: S608


_TAG_ORDER = {
    Order.NAME: "name",
    Order.NAME_DESC: "name DESC",
    Order.PUSHED: "updated_at DESC, name DESC",
    Order.PUSHED_OLDEST: "updated_at, name",
}

_REPOSITORY = "SELECT id, tag_count FROM repositories WHERE name = ?"


def _tag_matches(like_any_case: str) -> str:
    """Tag names have capitals (repository names do not, nor does a pattern): matched ignoring case."""
    return f"name {like_any_case} ? {_ESCAPE}"


def _count_tags(like_any_case: str) -> str:
    return f"SELECT COUNT(*) FROM tags WHERE repository_id = ? AND {_tag_matches(like_any_case)}"  # noqa: S608


# Blobs of the manifest and of its children (for an index), each once. The children are found first
# (IN), so that no engine is tempted to walk every blob reference of the repository for each row.
_CONTENT_SIZE = """
    (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN (
        SELECT mb.blob_digest FROM manifest_blobs mb
        WHERE mb.repository_id = p.repository_id AND mb.manifest_digest = p.digest
        UNION
        SELECT mb.blob_digest FROM manifest_blobs mb
        WHERE mb.repository_id = p.repository_id AND mb.manifest_digest IN (
            SELECT mc.child_digest FROM manifest_children mc
            WHERE mc.repository_id = p.repository_id AND mc.parent_digest = p.digest)))"""


def _tags_page(order: Order, search: str | None) -> str:
    """Parameters: repository id, the pattern when `search` (the LIKE that ignores case), limit, offset."""
    by = _TAG_ORDER[order]
    return f"""
        SELECT p.name, p.digest, m.media_type, m.size, p.updated_at, m.size + {_CONTENT_SIZE}
        FROM (SELECT repository_id, name, digest, updated_at FROM tags
              WHERE repository_id = ? {"AND " + _tag_matches(search) if search else ""}
              ORDER BY {by} LIMIT ? OFFSET ?) p
        JOIN manifests m ON m.repository_id = p.repository_id AND m.digest = p.digest
        ORDER BY {by}"""  # noqa: S608


class BrowseQueries(SqlCore, Browsing):
    async def browse_repositories(
        self, query: ListQuery, visible: Callable[[str], bool] | None = None
    ) -> Page[RepositorySummary]:
        # With `visible` (the caller's pull rights) the names are filtered before paging, so the
        # names and push times of every matching repository are read: milliseconds per 10,000.
        search = bool(query.search)
        pattern = (like_pattern(query.search),) if search else ()
        if visible is None:
            ((total,),) = await self._read_all(_count_repositories(search), *pattern)
            rows = await self._read_all(
                _repository_candidates(query.order, paged=True, search=search), *pattern, query.limit, query.offset
            )
        else:
            candidates = await self._read_all(_repository_candidates(query.order, False, search), *pattern)
            matching = [row for row in candidates if visible(row[1])]
            total, rows = len(matching), matching[query.offset : query.offset + query.limit]
        if not rows:
            return Page(int(total), [])
        ids = [row[0] for row in rows]
        aggregates = {row[0]: row[1:] for row in await self._read_all(_repository_aggregates(ids), *ids)}
        return Page(
            int(total),
            [
                RepositorySummary(name, pushed or None, int(aggregates[id_][0]), int(aggregates[id_][1]))
                for id_, name, pushed in rows
            ],
        )

    async def browse_tags(self, repository: str, query: ListQuery) -> Page[TagSummary] | None:
        found = await self._read_one(_REPOSITORY, repository)
        if found is None:
            return None
        repository_id, total = found
        search = bool(query.search)
        pattern = (like_pattern(query.search),) if search else ()
        if search:
            ((total,),) = await self._read_all(_count_tags(self._dialect.like_any_case), repository_id, *pattern)
        like = self._dialect.like_any_case if search else None
        rows = await self._read_all(_tags_page(query.order, like), repository_id, *pattern, query.limit, query.offset)
        return Page(
            int(total),
            [
                TagSummary(name, digest, media_type, int(size), pushed, int(total_size))
                for name, digest, media_type, size, pushed, total_size in rows
            ],
        )
