"""A read-only view of an embedded (SQLite) registry's metadata, to copy it elsewhere.

Opened read-only: reading never changes the source, not even by migrating its schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.meta.manifests import NewManifest


@dataclass(frozen=True, slots=True)
class StoredManifest:
    repository: str
    manifest: NewManifest
    tags: tuple[str, ...]


class SqliteSnapshot:
    def __init__(self, path: Path):
        if not path.is_file():
            raise FileNotFoundError(f"no embedded registry database at {path}")
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self._conn.close()

    def blobs(self) -> list[tuple[str, int]]:
        """Every blob (digest, size), in digest order."""
        return self._conn.execute("SELECT digest, size FROM blobs ORDER BY digest").fetchall()

    def links(self) -> Iterator[tuple[str, str, int]]:
        """(repository, digest, size) of every blob link."""
        yield from self._conn.execute(
            """SELECT r.name, rb.digest, b.size FROM repository_blobs rb
               JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest
               ORDER BY r.name, rb.digest"""
        )

    def manifest_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM manifests").fetchone()[0])

    def manifests(self) -> Iterator[StoredManifest]:
        """Every manifest with what it references and the tags on it."""
        rows = self._conn.execute(
            """SELECT m.repository_id, r.name, m.digest, m.media_type, m.body, m.artifact_type, m.subject,
                      m.annotations
               FROM manifests m JOIN repositories r ON r.id = m.repository_id ORDER BY r.name, m.digest"""
        )
        for repository_id, repository, digest, media_type, body, artifact_type, subject, annotations_json in rows:
            key = (repository_id, digest)
            yield StoredManifest(
                repository,
                NewManifest(
                    digest=digest,
                    media_type=media_type,
                    body=bytes(body),
                    artifact_type=artifact_type,
                    subject=subject,
                    annotations_json=annotations_json,
                    blob_digests=self._column(
                        "SELECT blob_digest FROM manifest_blobs WHERE repository_id = ? AND manifest_digest = ?", key
                    ),
                    child_digests=self._column(
                        "SELECT child_digest FROM manifest_children WHERE repository_id = ? AND parent_digest = ?", key
                    ),
                ),
                self._column("SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name", key),
            )

    def _column(self, sql: str, params: tuple[int, str]) -> tuple[str, ...]:
        return tuple(value for (value,) in self._conn.execute(sql, params))
