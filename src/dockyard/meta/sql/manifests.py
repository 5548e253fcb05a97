"""Manifests with their references; a push points its tags at the manifest in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dockyard.meta.driver import Transaction
from dockyard.meta.manifests import ManifestRef, Manifests, MissingBlobs, NewManifest, TagMoveRefused
from dockyard.meta.records import WriteRecord
from dockyard.meta.sql.core import NOT_FOUND, SqlCore, in_repository, insert_records, placeholders, repository_id

_MANIFEST_BY_DIGEST = """
    SELECT m.digest, m.media_type, m.size FROM repositories r
    JOIN manifests m ON m.repository_id = r.id WHERE r.name = ? AND m.digest = ?"""
_TAGS_ON_MANIFEST = """SELECT t.name FROM repositories r JOIN tags t ON t.repository_id = r.id
    WHERE r.name = ? AND t.digest = ?"""
# Stays well below every engine's limit on parameters per statement.
_IN_LIST_MAX = 500


async def _missing_blobs(tx: Transaction, repository_id: int, digests: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(digests))
    present: set[str] = set()
    for start in range(0, len(wanted), _IN_LIST_MAX):
        batch = wanted[start : start + _IN_LIST_MAX]
        rows = await tx.fetch_all(
            f"SELECT digest FROM repository_blobs WHERE repository_id = ? AND digest IN ({placeholders(batch)})",  # noqa: S608
            (repository_id, *batch),
        )
        present.update(digest for (digest,) in rows)
    return [digest for digest in wanted if digest not in present]


async def _refuse_tag_moves(tx: Transaction, repository_id: int, digest: str, tags: Sequence[str]) -> None:
    """Inside the writing transaction; re-pushing the same digest to a tag is never a move."""
    if not tags:
        return
    rows = await tx.fetch_all(
        f"SELECT name FROM tags WHERE repository_id = ? AND digest <> ? AND name IN ({placeholders(tags)})",  # noqa: S608
        (repository_id, digest, *tags),
    )
    if rows:
        raise TagMoveRefused(sorted(name for (name,) in rows))


async def insert_manifest(tx: Transaction, repository_id: int, manifest: NewManifest, now: float) -> None:
    await tx.execute(
        """INSERT INTO manifests (repository_id, digest, media_type, size, body, artifact_type, subject,
                                  annotations, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO NOTHING""",
        (
            repository_id,
            manifest.digest,
            manifest.media_type,
            len(manifest.body),
            manifest.body,
            manifest.artifact_type,
            manifest.subject,
            manifest.annotations_json,
            now,
        ),
    )
    await tx.execute_many(
        """INSERT INTO manifest_blobs (repository_id, manifest_digest, blob_digest) VALUES (?, ?, ?)
           ON CONFLICT (repository_id, manifest_digest, blob_digest) DO NOTHING""",
        [(repository_id, manifest.digest, blob) for blob in dict.fromkeys(manifest.blob_digests)],
    )
    await tx.execute_many(
        """INSERT INTO manifest_children (repository_id, parent_digest, child_digest) VALUES (?, ?, ?)
           ON CONFLICT (repository_id, parent_digest, child_digest) DO NOTHING""",
        [(repository_id, manifest.digest, child) for child in dict.fromkeys(manifest.child_digests)],
    )


class ManifestQueries(SqlCore, Manifests):
    async def put_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tags: Sequence[str],
        require_blobs: bool = True,
        may_move_tags: bool = True,
        *,
        records: Sequence[WriteRecord] = (),
    ) -> None:
        async def run(tx: Transaction) -> None:
            repo_id = await repository_id(tx, repository)
            missing = await _missing_blobs(tx, repo_id, manifest.blob_digests) if require_blobs else []
            if missing:
                raise MissingBlobs(missing)
            if not may_move_tags:
                await _refuse_tag_moves(tx, repo_id, manifest.digest, tags)
            now = time.time()
            await insert_manifest(tx, repo_id, manifest, now)
            await insert_records(tx, records)  # before the tags move: audit entries note where they were
            await tx.execute_many(
                """INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (repository_id, name)
                   DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at""",
                [(repo_id, tag, manifest.digest, now) for tag in tags],
            )

        await self._write(run)

    async def manifest_by_digest(self, repository: str, digest: str) -> ManifestRef | None:
        ref = self._cached_ref(_MANIFEST_BY_DIGEST, repository, digest)
        if ref is None:
            ref = await self._query_ref(_MANIFEST_BY_DIGEST, repository, digest)
        return None if ref is NOT_FOUND else ref

    async def manifest_body(self, repository: str, digest: str) -> bytes | None:
        row = await self._read_one(
            """SELECT m.body FROM repositories r JOIN manifests m ON m.repository_id = r.id
               WHERE r.name = ? AND m.digest = ?""",
            repository,
            digest,
        )
        return bytes(row[0]) if row else None

    async def delete_manifest(
        self,
        repository: str,
        digest: str,
        records: Sequence[WriteRecord] = (),
        *,
        protected: Callable[[str], bool] | None = None,
    ) -> bool:
        # Tags on the manifest and its reference rows go with it (ON DELETE CASCADE).
        statement = in_repository("DELETE FROM manifests WHERE digest = ?")
        if protected is None:
            return await self._delete(statement, digest, repository, records=records)

        async def run(tx: Transaction) -> bool:
            rows = await tx.fetch_all(_TAGS_ON_MANIFEST, (repository, digest))
            kept = sorted(name for (name,) in rows if protected(name))
            if kept:
                raise TagMoveRefused(kept)
            deleted = await tx.execute(statement, (digest, repository)) > 0
            if deleted:
                await insert_records(tx, records)
            return deleted

        return await self._write(run)
