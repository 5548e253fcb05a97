"""The stores maintenance commands open: the same ones the servers of these settings use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dockyard.blobs.base import BlobStore
from dockyard.blobs.factory import open_blob_store
from dockyard.config.settings import Settings
from dockyard.meta.factory import open_metadata_store
from dockyard.meta.store import MetadataStore


async def open_metadata(settings: Settings) -> MetadataStore:
    """The metadata store, started on the running event loop."""
    store = open_metadata_store(settings)
    await store.start()
    return store


async def open_blobs(settings: Settings) -> BlobStore:
    return open_blob_store(settings)


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[tuple[MetadataStore, BlobStore]]:
    """Both stores, closed when the block ends."""
    meta = await open_metadata(settings)
    blobs = await open_blobs(settings)
    try:
        yield meta, blobs
    finally:
        await meta.close()
        await blobs.close()
