"""The stores a maintenance command works on: the ones `serve` would open with the same settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dockyard.config import Settings

if TYPE_CHECKING:
    from dockyard.blobs.base import BlobStore
    from dockyard.meta.base import MetadataStore


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[tuple[MetadataStore, BlobStore]]:
    # Imported here, not when the CLI starts: prometheus_client (which the stores' users import)
    # must not be loaded before `serve` has set up its multiprocess directory.
    from dockyard.blobs.filesystem import FilesystemBlobStore  # noqa: PLC0415
    from dockyard.meta.factory import open_metadata_store  # noqa: PLC0415

    meta = open_metadata_store(settings)
    await meta.start()
    store = FilesystemBlobStore(settings.data_dir)
    try:
        yield meta, store
    finally:
        await meta.close()
        await store.close()
