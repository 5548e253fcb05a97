"""Versioned schema migrations, applied at start-up under the migration tool's lock."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations  # type: ignore[import-untyped]

_MIGRATIONS = Path(__file__).parent / "migrations"


def apply_migrations(database_uri: str, dialect: str) -> int:
    """Bring the schema up to date; safe when several processes start at once. Returns how many ran."""
    backend = get_backend(database_uri)
    try:
        migrations = read_migrations(str(_MIGRATIONS / dialect))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return len(pending)
    finally:
        backend.connection.close()
