"""Versioned schema migrations (yoyo SQL files per dialect), applied at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yoyo import get_backend, read_migrations  # type: ignore[import-untyped]

_MIGRATIONS = Path(__file__).parent / "migrations"


def apply_migrations(database_uri: str, dialect: str, *, caller_holds_lock: bool = False) -> int:
    """Bring the schema up to date; safe when several processes start at once. Returns how many ran.

    Without `caller_holds_lock`, yoyo's own lock (a row in a table) keeps processes apart; a caller
    that holds a lock of the engine's instead (which dies with its holder) passes True."""
    backend = get_backend(database_uri)
    try:
        migrations = read_migrations(str(_MIGRATIONS / dialect))
        if caller_holds_lock:
            backend.break_lock()  # a row left by a process killed mid-migration; nobody else is in here
            return _apply(backend, migrations)
        with backend.lock():
            return _apply(backend, migrations)
    finally:
        backend.connection.close()


def _apply(backend: Any, migrations: Any) -> int:
    pending = backend.to_apply(migrations)
    backend.apply_migrations(pending)
    return len(pending)
