"""The embedded metadata store: one SQLite database in WAL mode, shared by every local process.

Reads run inline: they are indexed lookups that finish in microseconds and never wait for
writers under WAL. Writes go to one thread per process that owns the write connection; every
write is a single IMMEDIATE transaction committed with a full fsync, so an acknowledged
write survives a crash.

Manifest lookups, the hot path of every pull, are answered from memory while the shared
generation token says no process has written since; most of a query's cost is the read
transaction it opens, not the lookup.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from dockyard.meta import outbox as outbox_sql
from dockyard.meta.base import (
    ManifestRef,
    MetadataStore,
    MissingBlobs,
    NewManifest,
    OutboxBatch,
    OutboxEntry,
    Referrer,
    UploadSession,
)
from dockyard.meta.generation import Generation
from dockyard.meta.migrate import apply_migrations

T = TypeVar("T")

# A writer that dies between its commit and advancing the generation leaves the cache stale;
# entries are dropped after this long whatever the token says.
_CACHE_SECONDS = 1.0
_CACHE_ENTRIES = 50_000

_MANIFEST_BY_TAG = """
    SELECT m.digest, m.media_type, m.size FROM repositories r
    JOIN tags t ON t.repository_id = r.id
    JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
    WHERE r.name = ? AND t.name = ?"""
_MANIFEST_BY_DIGEST = """
    SELECT m.digest, m.media_type, m.size FROM repositories r
    JOIN manifests m ON m.repository_id = r.id WHERE r.name = ? AND m.digest = ?"""

_DELETE_BLOB_LINK = """DELETE FROM repository_blobs WHERE digest = ?
    AND repository_id = (SELECT id FROM repositories WHERE name = ?)"""
# Tags on the manifest and its reference rows go with it (ON DELETE CASCADE).
_DELETE_MANIFEST = """DELETE FROM manifests WHERE digest = ?
    AND repository_id = (SELECT id FROM repositories WHERE name = ?)"""
_DELETE_TAG = """DELETE FROM tags WHERE name = ?
    AND repository_id = (SELECT id FROM repositories WHERE name = ?)"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _repository_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM repositories WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    cursor = conn.execute("INSERT INTO repositories (name, created_at) VALUES (?, ?)", (name, time.time()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _link(conn: sqlite3.Connection, repository: str, digest: str, size: int) -> None:
    now = time.time()
    conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?)", (digest, size, now))
    conn.execute(
        "INSERT OR IGNORE INTO repository_blobs VALUES (?, ?, ?)", (_repository_id(conn, repository), digest, now)
    )


class SqliteMetadataStore(MetadataStore):
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        apply_migrations(f"sqlite:///{path}", "sqlite")
        self._reader = _connect(path)
        self._writer_conn = _connect(path)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dockyard-sqlite")
        self._generation = Generation(path.with_name(path.name + ".generation"))
        self._refs: dict[tuple[str, str, str], ManifestRef | None] = {}
        self._refs_token = self._generation.current()
        self._refs_expire = 0.0

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._writer_conn.close()
        self._reader.close()
        self._generation.close()

    def _read_one(self, sql: str, *params: Any) -> Any:
        return self._reader.execute(sql, params).fetchone()

    def _manifest_ref(self, sql: str, repository: str, key: str) -> ManifestRef | None:
        token, now = self._generation.current(), time.monotonic()
        if token != self._refs_token or now > self._refs_expire or len(self._refs) > _CACHE_ENTRIES:
            # The token is read before the query: a write that lands meanwhile changes it again.
            self._refs.clear()
            self._refs_token, self._refs_expire = token, now + _CACHE_SECONDS
        cache_key = (sql, repository, key)
        if cache_key not in self._refs:
            row = self._read_one(sql, repository, key)
            self._refs[cache_key] = ManifestRef(*row) if row else None
        return self._refs[cache_key]

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._transaction, work)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._generation.advance()
        return result

    async def _write_outbox(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Outbox bookkeeping: leases, acknowledgements, pulls. Such a write leaves the manifest
        cache valid, and may be lost in a crash (the worst outcome is an event sent again, or a
        buffered pull lost as documented), so it commits without waiting for an fsync; the next
        durable commit makes it durable too."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._lazy_transaction, work)

    def _lazy_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer_conn
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.execute("PRAGMA synchronous = FULL")
        return result

    # Blobs.
    async def repository_blob_size(self, repository: str, digest: str) -> int | None:
        row = self._read_one(
            """SELECT b.size FROM repositories r
               JOIN repository_blobs rb ON rb.repository_id = r.id
               JOIN blobs b ON b.digest = rb.digest
               WHERE r.name = ? AND rb.digest = ?""",
            repository,
            digest,
        )
        return row[0] if row else None

    async def repositories_with_blob(self, digest: str, limit: int) -> list[tuple[str, int]]:
        rows = self._reader.execute(
            """SELECT r.name, b.size FROM repository_blobs rb
               JOIN repositories r ON r.id = rb.repository_id
               JOIN blobs b ON b.digest = rb.digest
               WHERE rb.digest = ? ORDER BY r.name LIMIT ?""",
            (digest, limit),
        )
        return [(name, size) for name, size in rows]

    async def link_blob(self, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()) -> None:
        def link(conn: sqlite3.Connection) -> None:
            _link(conn, repository, digest, size)
            outbox_sql.insert(conn, outbox)

        await self._write(link)

    async def unlink_blob(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        return await self._delete(_DELETE_BLOB_LINK, digest, repository, outbox)

    async def _delete(self, statement: str, key: str, repository: str, outbox: Sequence[OutboxEntry]) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(statement, (key, repository)).rowcount > 0
            if deleted:
                outbox_sql.insert(conn, outbox)
            return deleted

        return await self._write(delete)

    # Upload sessions.
    async def create_upload(self, upload_id: str, repository: str) -> None:
        now = time.time()
        await self._write(
            lambda conn: conn.execute("INSERT INTO uploads VALUES (?, ?, ?, ?)", (upload_id, repository, now, now))
        )

    async def get_upload(self, upload_id: str) -> UploadSession | None:
        row = self._read_one("SELECT id, repository, updated_at FROM uploads WHERE id = ?", upload_id)
        return UploadSession(*row) if row else None

    async def touch_upload(self, upload_id: str) -> None:
        await self._write(
            lambda conn: conn.execute("UPDATE uploads SET updated_at = ? WHERE id = ?", (time.time(), upload_id))
        )

    async def delete_upload(self, upload_id: str) -> bool:
        cursor = await self._write(lambda conn: conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,)))
        return cursor.rowcount > 0

    async def finish_upload(
        self, upload_id: str, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        def finish(conn: sqlite3.Connection) -> None:
            _link(conn, repository, digest, size)
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            outbox_sql.insert(conn, outbox)

        await self._write(finish)

    async def stale_uploads(self, updated_before: float) -> list[str]:
        rows = self._reader.execute("SELECT id FROM uploads WHERE updated_at < ?", (updated_before,))
        return [row[0] for row in rows]

    # Manifests and tags.
    async def put_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tags: Sequence[str],
        require_blobs: bool = True,
        outbox: Sequence[OutboxEntry] = (),
    ) -> None:
        def put(conn: sqlite3.Connection) -> None:
            repository_id = _repository_id(conn, repository)
            missing = [
                digest
                for digest in (dict.fromkeys(manifest.blob_digests) if require_blobs else ())
                if not conn.execute(
                    "SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?",
                    (repository_id, digest),
                ).fetchone()
            ]
            if missing:
                raise MissingBlobs(missing)
            now = time.time()
            conn.execute(
                "INSERT OR IGNORE INTO manifests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            conn.executemany(
                "INSERT OR IGNORE INTO manifest_blobs VALUES (?, ?, ?)",
                [(repository_id, manifest.digest, blob) for blob in manifest.blob_digests],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO manifest_children VALUES (?, ?, ?)",
                [(repository_id, manifest.digest, child) for child in manifest.child_digests],
            )
            conn.executemany(
                """INSERT INTO tags VALUES (?, ?, ?, ?) ON CONFLICT (repository_id, name)
                   DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at""",
                [(repository_id, tag, manifest.digest, now) for tag in tags],
            )
            outbox_sql.insert(conn, outbox)

        await self._write(put)

    async def manifest_by_digest(self, repository: str, digest: str) -> ManifestRef | None:
        return self._manifest_ref(_MANIFEST_BY_DIGEST, repository, digest)

    async def manifest_by_tag(self, repository: str, tag: str) -> ManifestRef | None:
        return self._manifest_ref(_MANIFEST_BY_TAG, repository, tag)

    async def manifest_body(self, repository: str, digest: str) -> bytes | None:
        row = self._read_one(
            """SELECT m.body FROM repositories r JOIN manifests m ON m.repository_id = r.id
               WHERE r.name = ? AND m.digest = ?""",
            repository,
            digest,
        )
        return row[0] if row else None

    async def delete_manifest(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        return await self._delete(_DELETE_MANIFEST, digest, repository, outbox)

    async def delete_tag(self, repository: str, tag: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        return await self._delete(_DELETE_TAG, tag, repository, outbox)

    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        row = self._read_one("SELECT id FROM repositories WHERE name = ?", repository)
        if row is None:
            return None
        rows = self._reader.execute(
            "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
            (row[0], after or "", limit),
        )
        return [name for (name,) in rows]

    async def list_repositories(self, limit: int, after: str | None) -> list[str]:
        rows = self._reader.execute(
            "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", (after or "", limit)
        )
        return [name for (name,) in rows]

    async def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]:
        sql = """SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
                 FROM repositories r JOIN manifests m ON m.repository_id = r.id
                 WHERE r.name = ? AND m.subject = ?"""
        params: tuple[Any, ...] = (repository, subject)
        if artifact_type is not None:
            sql += " AND m.artifact_type = ?"
            params += (artifact_type,)
        rows = self._reader.execute(sql + " ORDER BY m.digest", params)
        return [Referrer(*row) for row in rows]

    # The notification outbox (statements in meta/outbox.py). One writer per process, and the
    # endpoint lease makes one process the deliverer of each endpoint.
    async def append_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        await self._write_outbox(lambda conn: outbox_sql.insert(conn, entries))

    async def take_outbox(
        self, endpoint: str, owner: str, lease_seconds: float, limit: int, keep: int
    ) -> tuple[OutboxBatch | None, int]:
        if not outbox_sql.has_events(self._reader, endpoint):
            return None, 0
        return await self._write_outbox(
            lambda conn: outbox_sql.take(
                conn, endpoint, owner, lease_seconds, limit=limit, keep=keep, skip_locked=False
            )
        )

    async def ack_outbox(self, endpoint: str, ids: Sequence[int]) -> None:
        await self._write_outbox(lambda conn: outbox_sql.ack(conn, endpoint, ids))

    async def fail_outbox(self, endpoint: str, ids: Sequence[int], max_attempts: int, retry_at: float) -> int:
        return await self._write_outbox(lambda conn: outbox_sql.fail(conn, endpoint, ids, max_attempts, retry_at))

    async def release_outbox(self, endpoint: str, owner: str) -> None:
        await self._write_outbox(lambda conn: outbox_sql.release(conn, endpoint, owner))

    async def outbox_pending(self, endpoint: str) -> int:
        return outbox_sql.pending(self._reader, endpoint)
