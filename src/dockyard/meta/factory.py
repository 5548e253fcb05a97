"""The one place that picks the metadata engine from the settings."""

from __future__ import annotations

from dockyard.config.settings import Settings
from dockyard.core.urls import redact_password
from dockyard.meta import postgres, sqlite
from dockyard.meta.store import MetadataStore

_SQLITE_FILE = "metadata.db"


def open_metadata_store(settings: Settings) -> MetadataStore:
    """The store the settings name: PostgreSQL at `database.url`, else SQLite in `data_dir`.
    Call `start()` on it from the event loop that will use it."""
    database = settings.database
    if database.url is None:
        return sqlite.SqliteMetadataStore(settings.data_dir / _SQLITE_FILE)
    return postgres.PostgresMetadataStore(database.url, database.pool_size)


def prepare_metadata_store(settings: Settings) -> str:
    """Check the database is usable and its schema current, once before worker processes start;
    what it is, for the start-up message. Raises MetadataUnavailable with a one-line reason."""
    database = settings.database
    if database.url is None:
        path = settings.data_dir / _SQLITE_FILE
        sqlite.prepare_database(path)
        return f"SQLite at {path}"
    postgres.prepare_database(database.url)
    return f"PostgreSQL at {redact_password(database.url)} (pool of {database.pool_size} per worker)"
