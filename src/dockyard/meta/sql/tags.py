"""Tags: the lookup every pull by tag makes (answered from the lookup cache), listings, deletion."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.meta.manifests import ManifestRef
from dockyard.meta.records import WriteRecord
from dockyard.meta.sql.core import NOT_FOUND, SqlCore, in_repository
from dockyard.meta.tags import Tags

_MANIFEST_BY_TAG = """
    SELECT m.digest, m.media_type, m.size FROM repositories r
    JOIN tags t ON t.repository_id = r.id
    JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
    WHERE r.name = ? AND t.name = ?"""
_TAGS_OF_MANIFEST = """SELECT t.name FROM repositories r JOIN tags t ON t.repository_id = r.id
    WHERE r.name = ? AND t.digest = ? ORDER BY t.name LIMIT ?"""


class TagQueries(SqlCore, Tags):
    async def manifest_by_tag(self, repository: str, tag: str) -> ManifestRef | None:
        ref = self._cached_ref(_MANIFEST_BY_TAG, repository, tag)
        if ref is None:
            ref = await self._query_ref(_MANIFEST_BY_TAG, repository, tag)
        return None if ref is NOT_FOUND else ref

    async def delete_tag(self, repository: str, tag: str, records: Sequence[WriteRecord] = ()) -> bool:
        statement = in_repository("DELETE FROM tags WHERE name = ?")
        return await self._delete(statement, tag, repository, records=records)

    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        row = await self._read_one("SELECT id FROM repositories WHERE name = ?", repository)
        if row is None:
            return None
        rows = await self._read_all(
            "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
            row[0],
            after or "",
            limit,
        )
        return [name for (name,) in rows]

    async def tags_of_manifest(self, repository: str, digest: str, limit: int) -> list[str]:
        return [name for (name,) in await self._read_all(_TAGS_OF_MANIFEST, repository, digest, limit)]
