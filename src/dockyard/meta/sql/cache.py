"""The pull-through cache's state: cached tags with their last confirmation, holds, fill leases, and
what eviction reads and releases.

Fill leases are rows taken by an upsert that only replaces an expired lease: on SQLite its IMMEDIATE
transaction runs alone, on PostgreSQL concurrent takers of one key conflict and are retried whole, so
either way exactly one wins. They are bookkeeping a crash may lose (they expire anyway): written
without waiting for the disk, and without disturbing the manifest lookup cache.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from dockyard.meta.cache import CachedTag, CacheItem, CacheState, FillLease
from dockyard.meta.driver import Transaction
from dockyard.meta.manifests import ManifestRef, NewManifest
from dockyard.meta.outbox import OutboxEntry
from dockyard.meta.sql.core import SqlCore, insert_outbox, link, repository_id
from dockyard.meta.sql.manifests import insert_manifest

_CACHED_TAG = """
    SELECT m.digest, m.media_type, m.size, c.checked_at FROM repositories r
    JOIN tags t ON t.repository_id = r.id
    JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
    JOIN cache_tag_checks c ON c.repository_id = t.repository_id AND c.name = t.name
    WHERE r.name = ? AND t.name = ?"""
_REPOSITORY_EXISTS = "SELECT 1 FROM repositories WHERE name = ?"
_REPOSITORY_ID = "(SELECT id FROM repositories WHERE name = ?)"
_LEASE = "SELECT key, owner, upload_id, size, expires_at FROM cache_fills WHERE key = ?"
_HOLD = """INSERT INTO cache_holds (repository_id, digest, pulled_at) VALUES (?, ?, ?)
    ON CONFLICT (repository_id, digest) DO UPDATE SET pulled_at = excluded.pulled_at"""
# What a tag or hold keeps: a manifest with the blobs it references, or a blob (whichever the digest is).
_KEPT_BYTES = """
    COALESCE((SELECT m.size FROM manifests m WHERE m.repository_id = r.id AND m.digest = {digest}), 0)
    + COALESCE((SELECT SUM(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.blob_digest
                WHERE mb.repository_id = r.id AND mb.manifest_digest = {digest}), 0)
    + COALESCE((SELECT b.size FROM blobs b WHERE b.digest = {digest}), 0)"""
_TAG_PULLED = "CASE WHEN p.pulled_at IS NOT NULL AND p.pulled_at > t.updated_at THEN p.pulled_at ELSE t.updated_at END"
_TAG_ITEMS = f"""
    SELECT r.name, t.name, t.digest, {_TAG_PULLED}, {_KEPT_BYTES.format(digest="t.digest")}
    FROM repositories r JOIN tags t ON t.repository_id = r.id
    LEFT JOIN tag_pulls p ON p.repository_id = t.repository_id AND p.name = t.name
    WHERE r.name > ? AND r.name < ? AND {_TAG_PULLED} < ? ORDER BY 4 LIMIT ?"""  # noqa: S608 - constant SQL
_HOLD_ITEMS = f"""
    SELECT r.name, NULL, h.digest, h.pulled_at, {_KEPT_BYTES.format(digest="h.digest")}
    FROM repositories r JOIN cache_holds h ON h.repository_id = r.id
    WHERE r.name > ? AND r.name < ? AND h.pulled_at < ? ORDER BY 4 LIMIT ?"""  # noqa: S608 - constant SQL

# Bytes still kept by tags and holds: manifests tagged or held, the blobs they reference, held blobs.
_KEPT_TOTAL = """
    WITH kept AS (
        SELECT m.repository_id, m.digest, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id
        WHERE r.name > ? AND r.name < ?
        AND (EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
             OR EXISTS (SELECT 1 FROM cache_holds h WHERE h.repository_id = m.repository_id AND h.digest = m.digest)))
    SELECT COALESCE((SELECT SUM(size) FROM kept), 0) + COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN (
        SELECT mb.blob_digest FROM manifest_blobs mb
        JOIN kept k ON k.repository_id = mb.repository_id AND k.digest = mb.manifest_digest
        UNION SELECT h.digest FROM cache_holds h JOIN repositories r ON r.id = h.repository_id
        WHERE r.name > ? AND r.name < ?)), 0)"""


def _under(prefix: str) -> tuple[str, str]:
    """Bounds of the names below `prefix/`, compared bytewise ('0' follows '/')."""
    return prefix + "/", prefix + "0"


class CacheQueries(SqlCore, CacheState):
    async def cached_tag(self, repository: str, tag: str, *, fresh: bool = False) -> CachedTag | None:
        key = (_CACHED_TAG, repository, tag)
        found: CachedTag | bool | None = self._recall(key)  # False: remembered as absent
        if found is None or fresh:
            token = self._refs_token
            row = await self._read_one(_CACHED_TAG, repository, tag)
            found = CachedTag(*row) if row else False
            self._remember(key, found, token)
        return found if isinstance(found, CachedTag) else None

    async def cached_manifest(self, repository: str, digest: str) -> ManifestRef | None:
        row = await self._read_one(
            """SELECT m.digest, m.media_type, m.size FROM repositories r
               JOIN manifests m ON m.repository_id = r.id WHERE r.name = ? AND m.digest = ?""",
            repository,
            digest,
        )
        return ManifestRef(*row) if row else None

    async def repository_exists(self, repository: str) -> bool:
        key = (_REPOSITORY_EXISTS, repository, "")
        found = self._recall(key)
        if found is None:
            token = self._refs_token
            found = await self._read_one(_REPOSITORY_EXISTS, repository) is not None
            self._remember(key, found, token)
        return bool(found)

    async def store_cached_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tag: str | None,
        checked_at: float,
        outbox: Sequence[OutboxEntry] = (),
    ) -> None:
        async def run(tx: Transaction) -> None:
            repo_id = await repository_id(tx, repository)
            now = time.time()
            await insert_manifest(tx, repo_id, manifest, now)
            await tx.execute(_HOLD, (repo_id, manifest.digest, now))
            if tag is not None:
                await tx.execute(
                    """INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest,
                       updated_at = excluded.updated_at WHERE tags.digest <> excluded.digest""",
                    (repo_id, tag, manifest.digest, now),
                )
                await tx.execute(
                    """INSERT INTO cache_tag_checks (repository_id, name, checked_at) VALUES (?, ?, ?)
                       ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = excluded.checked_at""",
                    (repo_id, tag, checked_at),
                )
            await insert_outbox(tx, outbox)

        await self._write(run)

    async def confirm_cached_tag(self, repository: str, tag: str, digest: str, checked_at: float) -> bool:
        # Only the time of a check changes: no lookup is invalidated (a process remembering the older
        # time reads the row again before it would revalidate), and a confirmation lost to a crash
        # costs one more HEAD, so the commit does not wait for the disk.
        updated = await self._write_one(
            f"""UPDATE cache_tag_checks SET checked_at = ? WHERE repository_id = {_REPOSITORY_ID} AND name = ?
                AND checked_at < ? AND EXISTS (SELECT 1 FROM tags t WHERE t.digest = ?
                    AND t.repository_id = cache_tag_checks.repository_id AND t.name = cache_tag_checks.name)""",  # noqa: S608
            checked_at,
            repository,
            tag,
            checked_at,
            digest,
            invalidates=False,
            durable=False,
        )
        return updated > 0

    async def forget_cached_tag(self, repository: str, tag: str) -> None:
        async def run(tx: Transaction) -> None:
            row = await tx.fetch_one(
                "SELECT t.repository_id, t.digest FROM repositories r JOIN tags t ON t.repository_id = r.id "
                "WHERE r.name = ? AND t.name = ?",
                (repository, tag),
            )
            if row is not None:
                await tx.execute(_HOLD, (row[0], row[1], time.time()))
                await tx.execute("DELETE FROM tags WHERE repository_id = ? AND name = ?", (row[0], tag))

        await self._write(run)

    async def take_fill_lease(self, key: str, owner: str, upload_id: str, seconds: float) -> FillLease:
        async def run(tx: Transaction) -> FillLease:
            now = time.time()
            await tx.execute(
                """INSERT INTO cache_fills (key, owner, upload_id, size, expires_at) VALUES (?, ?, ?, NULL, ?)
                   ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, upload_id = excluded.upload_id,
                   size = NULL, expires_at = excluded.expires_at WHERE cache_fills.expires_at < ?""",
                (key, owner, upload_id, now + seconds, now),
            )
            row = await tx.fetch_one(_LEASE, (key,))
            assert row is not None
            return _lease(row)

        return await self._write(run, invalidates=False, durable=False)

    async def fill_lease(self, key: str) -> FillLease | None:
        row = await self._read_one(_LEASE, key)
        return _lease(row) if row else None

    async def renew_fill_lease(self, key: str, owner: str, seconds: float, size: int | None = None) -> bool:
        async def run(tx: Transaction) -> bool:
            return (
                await tx.execute(
                    "UPDATE cache_fills SET expires_at = ?, size = COALESCE(?, size) WHERE key = ? AND owner = ?",
                    (time.time() + seconds, size, key, owner),
                )
                > 0
            )

        return await self._write(run, invalidates=False, durable=False)

    async def release_fill_lease(self, key: str, owner: str) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute("DELETE FROM cache_fills WHERE key = ? AND owner = ?", (key, owner))

        await self._write(run, invalidates=False, durable=False)

    async def finish_blob_fill(
        self, lease: FillLease, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        async def run(tx: Transaction) -> None:
            await link(tx, repository, digest, size)
            await tx.execute(_HOLD, (await repository_id(tx, repository), digest, time.time()))
            await tx.execute("DELETE FROM uploads WHERE id = ?", (lease.upload_id,))
            await tx.execute("DELETE FROM cache_fills WHERE key = ? AND owner = ?", (lease.key, lease.owner))
            await insert_outbox(tx, outbox)

        await self._write(run)

    async def link_cached_blob(self, repository: str, digest: str) -> bool:
        async def run(tx: Transaction) -> bool:
            row = await tx.fetch_one("SELECT size FROM blobs WHERE digest = ?", (digest,))
            if row is not None:
                await link(tx, repository, digest, int(row[0]))
                await tx.execute(_HOLD, (await repository_id(tx, repository), digest, time.time()))
            return row is not None

        return await self._write(run)

    async def record_cache_pulls(
        self, tags: Sequence[tuple[str, str, float]], digests: Sequence[tuple[str, str, float]]
    ) -> None:
        async def run(tx: Transaction) -> None:
            for repository, tag, at in tags:
                await tx.execute(
                    """INSERT INTO tag_pulls (repository_id, name, pulled_at) VALUES (?, ?, ?)
                       ON CONFLICT (repository_id, name) DO UPDATE SET pulled_at = excluded.pulled_at
                       WHERE excluded.pulled_at > tag_pulls.pulled_at""",
                    (await repository_id(tx, repository), tag, at),
                )
            await tx.execute_many(
                f"""UPDATE cache_holds SET pulled_at = ?
                    WHERE repository_id = {_REPOSITORY_ID} AND digest = ? AND pulled_at < ?""",  # noqa: S608
                [(at, repository, digest, at) for repository, digest, at in digests],
            )

        await self._write(run, invalidates=False, durable=False)

    async def stale_cache_items(self, prefix: str, pulled_before: float, limit: int) -> list[CacheItem]:
        return await self._items(prefix, pulled_before, limit)

    async def cache_items_by_pull(self, prefix: str, limit: int) -> list[CacheItem]:
        return await self._items(prefix, float("inf"), limit)

    async def _items(self, prefix: str, pulled_before: float, limit: int) -> list[CacheItem]:
        low, high = _under(prefix)
        rows = [
            *await self._read_all(_TAG_ITEMS, low, high, pulled_before, limit),
            *await self._read_all(_HOLD_ITEMS, low, high, pulled_before, limit),
        ]
        items = [CacheItem(name, tag, digest, float(at), int(size)) for name, tag, digest, at, size in rows]
        return sorted(items, key=lambda item: item.pulled_at)[:limit]

    async def cached_bytes(self, prefix: str) -> int:
        low, high = _under(prefix)
        row = await self._read_one(_KEPT_TOTAL, low, high, low, high)
        return int(row[0]) if row else 0

    async def release_cache_items(self, items: Sequence[CacheItem]) -> int:
        async def run(tx: Transaction) -> int:
            released = 0
            for item in items:
                if item.tag is not None:
                    released += await tx.execute(
                        f"""DELETE FROM tags WHERE repository_id = {_REPOSITORY_ID} AND name = ? AND digest = ?
                            AND updated_at <= ? AND NOT EXISTS (SELECT 1 FROM tag_pulls p
                                WHERE p.repository_id = tags.repository_id AND p.name = tags.name
                                AND p.pulled_at > ?)""",  # noqa: S608
                        (item.repository, item.tag, item.digest, item.pulled_at, item.pulled_at),
                    )
                else:
                    released += await tx.execute(
                        f"""DELETE FROM cache_holds WHERE repository_id = {_REPOSITORY_ID} AND digest = ?
                            AND pulled_at <= ?""",  # noqa: S608
                        (item.repository, item.digest, item.pulled_at),
                    )
            return released

        return await self._write(run)


def _lease(row: Any) -> FillLease:
    key, owner, upload_id, size, expires_at = row
    return FillLease(key, owner, upload_id, None if size is None else int(size), float(expires_at))
