"""The stores maintenance commands open: the same ones the servers of these settings use."""

from __future__ import annotations

from dockyard.blobs.base import BlobStore
from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.config import Settings
from dockyard.meta.base import MetadataStore
from dockyard.meta.sqlite import SqliteMetadataStore


def open_metadata(settings: Settings) -> MetadataStore:
    return SqliteMetadataStore(settings.data_dir / "metadata.db")


def open_blobs(settings: Settings) -> BlobStore:
    return FilesystemBlobStore(settings.data_dir)
