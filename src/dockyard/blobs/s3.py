"""Blobs in an S3 bucket (AWS, Ceph RGW, or any S3-compatible store), at `blobs/<algorithm>/<hex>`.

Downloads are relayed from S3 (StreamedBlob), or with `redirect` answered by a presigned URL the
client fetches itself. Nothing here lists the bucket on a request path: listing is for the
maintenance commands and the purge. Uploads are in s3_uploads. Whatever S3 still gets wrong after
the connection's retries leaves here as a StoreFault (faults_named).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime

from botocore.exceptions import ClientError

from dockyard.blobs.base import BlobSource, BlobStore, RedirectBlob, StoredBlob, StreamedBlob, UnknownUpload
from dockyard.blobs.s3_client import Keys, S3Connection, S3Location, faults_named, faults_named_in, is_missing
from dockyard.blobs.s3_segments import PART_BYTES
from dockyard.blobs.s3_uploads import S3Uploads
from dockyard.core.digest import Digest, Hasher
from dockyard.core.errors import RegistryError
from dockyard.telemetry import metrics

PRESIGNED_SECONDS = 20 * 60
"""Long enough for a slow client to start its download, short enough that a leaked URL soon expires."""


class S3BlobStore(BlobStore):
    def __init__(self, location: S3Location, redirect: bool = False, part_bytes: int = PART_BYTES):
        self._s3 = S3Connection(location)
        self._keys = Keys(location.prefix)
        self._uploads = S3Uploads(self._s3, self._keys, part_bytes)
        self._redirect = redirect

    async def close(self) -> None:
        await self._s3.close()

    async def ping(self) -> None:
        client = await self._s3.client()
        await client.head_bucket(Bucket=self._s3.bucket)

    @faults_named
    async def source(self, digest: Digest, vouched: bool = False) -> BlobSource | None:
        client = await self._s3.client()
        key = self._keys.blob(digest)
        if not (self._redirect and vouched):
            try:
                head = await client.head_object(Bucket=self._s3.bucket, Key=key)
            except ClientError as error:
                if is_missing(error):
                    return None
                raise
        if self._redirect:
            # Signing is local: with the metadata's word for the blob, a GET costs no S3 request.
            url = await client.generate_presigned_url(
                "get_object", Params={"Bucket": self._s3.bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
            )
            return RedirectBlob(url)
        return StreamedBlob(head["ContentLength"], functools.partial(self._open, key))

    @faults_named
    async def _open(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return _nothing()  # S3 has no way to ask for zero bytes
        return await self._s3.read_object(key, start, end)

    @faults_named_in
    async def read(self, digest: Digest) -> AsyncIterator[bytes]:
        try:
            chunks = await self._s3.read_object(self._keys.blob(digest))
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(str(digest)) from None
            raise
        async for chunk in chunks:
            yield chunk

    @faults_named
    async def delete(self, digest: Digest) -> None:
        await self._s3.delete_keys([self._keys.blob(digest)])

    @faults_named_in
    async def list_blobs(self) -> AsyncIterator[StoredBlob]:
        client = await self._s3.client()
        prefix = self._keys.blobs
        async for page in client.get_paginator("list_objects_v2").paginate(Bucket=self._s3.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                digest = _digest_of_key(item["Key"][len(prefix) :])
                if digest is not None:
                    yield StoredBlob(digest, item["Size"], _epoch(item["LastModified"]))

    @faults_named
    async def quarantine(self, digest: Digest) -> None:
        client = await self._s3.client()
        try:
            await client.copy_object(
                Bucket=self._s3.bucket,
                Key=self._keys.quarantined(digest),
                CopySource={"Bucket": self._s3.bucket, "Key": self._keys.blob(digest)},
            )
        except ClientError as error:
            if is_missing(error):
                return
            raise
        await self.delete(digest)

    @faults_named
    async def start_upload(self, upload_id: str, *, durable: bool = True) -> None:  # noqa: ARG002 - stored = durable
        await self._uploads.start(upload_id)

    @faults_named
    async def upload_size(self, upload_id: str) -> int | None:
        try:
            state, _ = await self._uploads.load(upload_id)
        except UnknownUpload:
            return None
        return state.size

    @metrics.timed("blobs", "append")
    @faults_named
    async def append_upload(
        self,
        upload_id: str,
        offset: int,
        chunks: AsyncIterable[bytes],
        hasher: Hasher | None,
        *,
        durable: bool = True,  # noqa: ARG002 - S3 answers once a segment and the state naming it are stored
    ) -> int:
        return await self._uploads.append(upload_id, offset, chunks, hasher)

    @faults_named_in
    def read_upload(self, upload_id: str, start: int = 0) -> AsyncIterator[bytes]:
        return self._uploads.read(upload_id, start)

    @metrics.timed("blobs", "commit")
    @faults_named
    async def commit_upload(self, upload_id: str, digest: Digest, size: int) -> None:
        await self._uploads.commit(upload_id, size, self._keys.blob(digest))

    @faults_named
    async def abort_upload(self, upload_id: str) -> None:
        await self._uploads.abort(upload_id)

    @faults_named
    async def purge_stale(self, older_than: float) -> int:
        # Multipart uploads left by a process that died mid-chunk or mid-commit: S3 keeps (and
        # bills) their parts until aborted. Sessions that are purged take theirs with them.
        return await self._uploads.abort_multipart(self._keys.root, older_than)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


def _digest_of_key(name: str) -> Digest | None:
    try:
        return Digest.parse(name.replace("/", ":", 1))
    except RegistryError:
        return None


def _epoch(moment: datetime) -> float:
    return moment.timestamp()
