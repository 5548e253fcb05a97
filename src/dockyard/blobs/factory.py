"""The one place that picks the blob store from the settings: `storage.s3` present means S3."""

from __future__ import annotations

import asyncio

from dockyard.blobs.base import BlobStore
from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.blobs.s3 import S3BlobStore
from dockyard.blobs.s3_client import S3Location, explain
from dockyard.config.settings import S3Storage, Settings
from dockyard.core.errors import OutOfSpace, ReadOnlyStorage

_CHECK_SECONDS = 15.0


class BlobStoreUnavailable(Exception):
    """The configured blob store cannot be used; the message says why, without secrets."""


def open_blob_store(settings: Settings) -> BlobStore:
    s3 = settings.storage.s3
    if s3 is None:
        return FilesystemBlobStore(settings.data_dir)
    return S3BlobStore(_location(s3), redirect=s3.redirect)


def _location(s3: S3Storage) -> S3Location:
    return S3Location(
        bucket=s3.bucket,
        endpoint=s3.endpoint,
        region=s3.region,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value() if s3.secret_key is not None else None,
        prefix=s3.prefix,
        connect_timeout=s3.connect_timeout_seconds,
        read_timeout=s3.read_timeout_seconds,
        attempt_timeout=s3.attempt_timeout_seconds,
        max_attempts=s3.max_attempts,
    )


def describe_blob_store(settings: Settings) -> str:
    s3 = settings.storage.s3
    if s3 is None:
        return f"the filesystem at {settings.data_dir.resolve() / 'blobs'}"
    return _location(s3).describe() + (", blob GETs redirected to presigned URLs" if s3.redirect else "")


async def _reach(store: BlobStore) -> None:
    try:
        await asyncio.wait_for(store.ping(), _CHECK_SECONDS)
    finally:
        await store.close()


def check_blob_store(settings: Settings) -> str:
    """Make sure the blob store answers before serving; return what it is, for the start-up line."""
    description = describe_blob_store(settings)
    try:
        asyncio.run(_reach(open_blob_store(settings)))
    except TimeoutError:
        raise BlobStoreUnavailable(f"{description}: no answer within {_CHECK_SECONDS:.0f} s") from None
    except (OutOfSpace, ReadOnlyStorage):
        pass  # it serves what it holds; writes fail until there is room (serve warns of it)
    except Exception as error:
        raise BlobStoreUnavailable(f"{description}: {explain(error)}") from None
    return description
