"""What retention rules read and delete: tags with their push and pull times, stale untagged manifests.

Deletions re-check in their own transaction what the plan saw, so a tag pushed again or a manifest
tagged meanwhile is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.meta.driver import Transaction
from dockyard.meta.retention import RetentionState, TagState
from dockyard.meta.sql.core import SqlCore, repository_id
from dockyard.meta.sql.garbage_reviews import UNHELD_MANIFEST

_REPOSITORY_ID = "SELECT id FROM repositories WHERE name = ?"


class RetentionQueries(SqlCore, RetentionState):
    async def record_pulls(self, pulls: Sequence[tuple[str, str, float]]) -> None:
        async def run(tx: Transaction) -> None:
            for repository, tag, at in pulls:
                await tx.execute(
                    """INSERT INTO tag_pulls (repository_id, name, pulled_at) VALUES (?, ?, ?)
                       ON CONFLICT (repository_id, name) DO UPDATE SET pulled_at = excluded.pulled_at
                       WHERE excluded.pulled_at > tag_pulls.pulled_at""",
                    (await repository_id(tx, repository), tag, at),
                )

        await self._write(run, invalidates=False)

    async def tag_states(self, repository: str) -> list[TagState]:
        rows = await self._read_all(
            """SELECT t.name, t.digest, t.updated_at, p.pulled_at FROM repositories r
               JOIN tags t ON t.repository_id = r.id
               LEFT JOIN tag_pulls p ON p.repository_id = t.repository_id AND p.name = t.name
               WHERE r.name = ? ORDER BY t.name""",
            repository,
        )
        return [TagState(*row) for row in rows]

    async def delete_unchanged_tags(self, repository: str, tags: Sequence[TagState]) -> list[str]:
        async def run(tx: Transaction) -> list[str]:
            row = await tx.fetch_one(_REPOSITORY_ID, (repository,))
            if row is None:
                return []
            deleted = []
            for tag in tags:
                if await tx.execute(
                    "DELETE FROM tags WHERE repository_id = ? AND name = ? AND digest = ? AND updated_at = ?",
                    (row[0], tag.name, tag.digest, tag.pushed_at),
                ):
                    deleted.append(tag.name)
            return deleted

        return await self._write(run)

    async def stale_untagged_manifests(self, repository: str, created_before: float) -> list[tuple[str, int]]:
        rows = await self._read_all(
            """SELECT m.digest, m.size, m.created_at FROM repositories r JOIN manifests m ON m.repository_id = r.id
               WHERE r.name = ? AND m.created_at < ?
               AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
               ORDER BY m.digest""",
            repository,
            created_before,
        )
        row = await self._read_one(_REPOSITORY_ID, repository)
        if row is None:
            return []
        stale = []
        for digest, size, _ in rows:
            if await self._read_one(UNHELD_MANIFEST, row[0], digest):
                stale.append((digest, int(size)))
        return stale

    async def delete_stale_untagged_manifests(
        self, repository: str, digests: Sequence[str], created_before: float
    ) -> list[str]:
        async def run(tx: Transaction) -> list[str]:
            row = await tx.fetch_one(_REPOSITORY_ID, (repository,))
            if row is None:
                return []
            deleted = []
            for digest in digests:
                unheld = await tx.fetch_one(UNHELD_MANIFEST, (row[0], digest))
                if unheld is not None and unheld[2] < created_before:
                    await tx.execute("DELETE FROM manifests WHERE repository_id = ? AND digest = ?", (row[0], digest))
                    deleted.append(digest)
            return deleted

        return await self._write(run)
