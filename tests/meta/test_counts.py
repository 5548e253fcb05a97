"""Counts kept by triggers, so that the web UI never counts rows: each repository's tag count on its
row (migration 0014_tag_counts) and the number of repositories (0016_repository_counts). Each is
filled in for what existed before its migration and kept right by every way rows come and go, on
both engines."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bench.postgres import PostgresCluster
from yoyo import get_backend, read_migrations  # type: ignore[import-untyped]

MIGRATIONS = Path(__file__).parents[2] / "src/dockyard/meta/migrations"
Run = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Run]]:
    """A yoyo URI, the migrations' dialect, and a way to run SQL there (autocommit)."""
    if request.param == "sqlite":
        path = tmp_path / "metadata.db"

        def run_sqlite(sql: str) -> list[tuple[Any, ...]]:
            with closing(sqlite3.connect(path, isolation_level=None)) as conn:
                conn.execute("PRAGMA foreign_keys = ON")
                return conn.execute(sql).fetchall()

        yield f"sqlite:///{path}", "sqlite", run_sqlite
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()

    def run_postgres(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    yield url.replace("postgresql://", "postgresql+psycopg://", 1), "postgres", run_postgres


def migrate(uri: str, dialect: str, before: str | None = None) -> None:
    backend = get_backend(uri)
    try:
        migrations = read_migrations(str(MIGRATIONS / dialect))
        if before is not None:
            migrations = migrations.filter(lambda migration: migration.id < before)
        backend.apply_migrations(backend.to_apply(migrations))
    finally:
        backend.connection.close()


def counts(run: Run) -> dict[str, int]:
    return {name: int(count) for name, count in run("SELECT name, tag_count FROM repositories ORDER BY name")}


def test_counts_are_filled_in_and_kept_by_every_change_of_tags(database: tuple[str, str, Run]) -> None:
    uri, dialect, run = database
    migrate(uri, dialect, before="0014_tag_counts")
    run("INSERT INTO repositories (id, name, created_at) VALUES (1, 'one', 0), (2, 'two', 0), (3, 'none', 0)")
    run(
        "INSERT INTO manifests (repository_id, digest, media_type, size, body, created_at) VALUES "
        "(1, 'sha256:a', 'm', 1, 'x', 0), (1, 'sha256:b', 'm', 1, 'x', 0), (2, 'sha256:a', 'm', 1, 'x', 0)"
    )
    run(
        "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES "
        "(1, 'v1', 'sha256:a', 0), (1, 'v2', 'sha256:a', 0), (1, 'v3', 'sha256:b', 0), (2, 'latest', 'sha256:a', 0)"
    )
    migrate(uri, dialect)
    assert counts(run) == {"none": 0, "one": 3, "two": 1}

    run("INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (2, 'new', 'sha256:a', 1)")
    assert counts(run)["two"] == 2
    # A push that moves a tag is an upsert: the count stays.
    run(
        "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (1, 'v1', 'sha256:b', 2) "
        "ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at"
    )
    assert counts(run)["one"] == 3
    run("DELETE FROM tags WHERE repository_id = 1 AND name = 'v2'")
    assert counts(run)["one"] == 2
    # Deleting a manifest takes its tags with it (v1 and v3 point at b now).
    run("DELETE FROM manifests WHERE repository_id = 1 AND digest = 'sha256:b'")
    assert counts(run) == {"none": 0, "one": 0, "two": 2}
    assert run("SELECT COUNT(*) FROM tags WHERE repository_id = 1") == [(0,)]


def repository_total(run: Run) -> int:
    ((total,),) = run("SELECT COALESCE(SUM(total), 0) FROM repository_counts")
    return int(total)


def test_the_number_of_repositories_is_filled_in_and_kept_by_creations_and_deletions(
    database: tuple[str, str, Run],
) -> None:
    uri, dialect, run = database
    migrate(uri, dialect, before="0016_repository_counts")
    run("INSERT INTO repositories (name, created_at) SELECT 'old-' || g, 0 FROM " + series(dialect, 40))
    migrate(uri, dialect)
    assert repository_total(run) == 40

    run("INSERT INTO repositories (name, created_at) SELECT 'new-' || g, 0 FROM " + series(dialect, 25))
    # Creating a repository that exists already inserts nothing, and counts nothing.
    run("INSERT INTO repositories (name, created_at) VALUES ('old-1', 1) ON CONFLICT (name) DO NOTHING")
    assert repository_total(run) == 65
    run("DELETE FROM repositories WHERE name LIKE 'old-%'")
    assert repository_total(run) == 25
    assert run("SELECT COUNT(*) FROM repositories") == [(25,)]


def series(dialect: str, count: int) -> str:
    """A table of one column `g` holding 1..count."""
    if dialect == "postgres":
        return f"generate_series(1, {count}) AS g"
    return f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count}) SELECT g FROM s)"
