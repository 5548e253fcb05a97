"""Upload sessions in S3: chunks of any size in, one content-addressed object out.

An upload is a folder `uploads/<id>/` holding a small JSON `state` object and *segments*:
ordinary objects that, in the order the state lists them, hold the bytes received so far. Every
segment but the last is at least S3's minimum part size (5 MiB), so at commit they become the
parts of one multipart copy (server-side) into the blob's key; a single segment is copied whole,
which Ceph RGW does by reference in milliseconds.

Each PATCH writes one new segment while it streams: parts of PART_BYTES go to a multipart upload
as they fill (one part being filled, one in flight: memory stays at a few parts whatever the
chunk size), and a body shorter than one part becomes a plain PUT. A last segment below the
minimum (the conformance suite's few-byte chunks) is read back and rewritten in front of the next
chunk: at most 5 MiB re-read per PATCH. UploadPartCopy cannot merge it instead, because S3 refuses
a non-final part under 5 MiB.

The state names the segments, so any instance can continue an upload. It is replaced only by a
conditional PUT (If-Match on the ETag that was read): of two writers racing on one upload, the
loser finds out, deletes its segment and answers with the current size, and the bytes the state
names are always exactly the bytes some writer hashed. A commit first marks the state sealed the
same way, so no append can change what was verified while it is being copied.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from dockyard.blobs.base import UnknownUpload, UploadConflict
from dockyard.blobs.s3_client import Keys, S3Connection, error_code, is_missing
from dockyard.blobs.s3_segments import (
    MIN_PART_BYTES,
    PART_BYTES,
    HashBatches,
    Segment,
    SegmentWriter,
    UploadState,
    abort_multipart,
)
from dockyard.core.digest import Hasher

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

MAX_COPY_BYTES = 5 << 30  # the largest CopyObject, and the largest part
_COPY_CONCURRENCY = 4


class _Superseded(Exception):
    """Another writer replaced the state since it was read."""


class S3Uploads:
    def __init__(self, s3: S3Connection, keys: Keys, part_bytes: int = PART_BYTES):
        self._s3, self._keys, self._part_bytes = s3, keys, max(part_bytes, MIN_PART_BYTES)
        # RGW matches If-Match only against the bare ETag, AWS against the quoted one: learn which.
        self._quoted_etags: bool | None = None

    async def start(self, upload_id: str) -> None:
        client = await self._s3.client()
        await client.put_object(
            Bucket=self._s3.bucket, Key=self._keys.upload_state(upload_id), Body=UploadState().encode()
        )

    async def load(self, upload_id: str) -> tuple[UploadState, str]:
        client = await self._s3.client()
        try:
            answer = await client.get_object(Bucket=self._s3.bucket, Key=self._keys.upload_state(upload_id))
        except ClientError as error:
            if is_missing(error):
                raise UnknownUpload(upload_id) from None
            raise
        async with answer["Body"] as body:
            return UploadState.decode(await body.read()), answer["ETag"]

    async def _save(self, upload_id: str, state: UploadState, etag: str) -> None:
        """Replace the state if it is still the one with `etag`, else raise _Superseded.

        A PUT whose first attempt was made but whose answer was lost is retried and then refused
        (the ETag changed: by that attempt); so a refusal is checked against the state there now,
        and a state equal to ours, which names a segment only this writer wrote, is our own."""
        client = await self._s3.client()
        forms = {True: etag, False: etag.strip('"')}
        order = [self._quoted_etags] if self._quoted_etags is not None else [True, False]
        for quoted in order:
            try:
                await client.put_object(
                    Bucket=self._s3.bucket, Key=self._keys.upload_state(upload_id), Body=state.encode(),
                    IfMatch=forms[quoted],
                )  # fmt: skip
            except ClientError as error:
                if error_code(error) not in {"PreconditionFailed", "412"}:
                    raise
                continue
            self._quoted_etags = quoted
            return
        if (await self.load(upload_id))[0] != state:
            raise _Superseded

    async def _conflict(self, upload_id: str) -> UploadConflict:
        state, _ = await self.load(upload_id)
        return UploadConflict(state.size)

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes], hasher: Hasher | None) -> int:
        state, etag = await self.load(upload_id)
        if state.size != offset:
            raise UploadConflict(state.size)
        if state.sealed:
            return await self._refuse_more(state, chunks)
        tail = state.short_tail
        writer = SegmentWriter(
            await self._s3.client(), self._s3.bucket, self._keys.new_segment(upload_id), self._part_bytes
        )
        try:
            if tail is not None:
                async for chunk in await self._s3.read_object(tail.key):
                    await writer.write(chunk)
            received, broken = await self._receive(writer, chunks, hasher)
            if received == 0:
                await writer.discard()
                if broken is not None:
                    raise broken
                return offset
            segment = await writer.finish()
        except BaseException:
            await writer.discard()
            raise
        kept = state.segments[:-1] if tail is not None else state.segments
        try:
            await self._save(upload_id, UploadState(offset + received, [*kept, segment]), etag)
        except _Superseded:
            await self._s3.delete_keys([segment.key])
            raise await self._conflict(upload_id) from None
        if tail is not None:
            await self._s3.delete_keys([tail.key])
        if broken is not None:
            raise broken  # what arrived before the body broke off is kept: the client may resume
        return offset + received

    @staticmethod
    async def _refuse_more(state: UploadState, chunks: AsyncIterable[bytes]) -> int:
        """A sealed upload is being committed: an empty chunk (a retried PUT) is fine, bytes are not."""
        async for chunk in chunks:
            if chunk:
                raise UploadConflict(state.size)
        return state.size

    @staticmethod
    async def _receive(
        writer: SegmentWriter, chunks: AsyncIterable[bytes], hasher: Hasher | None
    ) -> tuple[int, Exception | None]:
        """Stream the body into the writer; a body that breaks off is returned, not raised."""
        hashing = HashBatches(hasher)
        received = 0
        iterator = aiter(chunks)
        while True:
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                break
            except Exception as error:
                await hashing.flush()
                return received, error
            received += len(chunk)
            await hashing.add(chunk)
            await writer.write(chunk)
        await hashing.flush()
        return received, None

    async def read(self, upload_id: str, start: int = 0) -> AsyncIterator[bytes]:
        state, _ = await self.load(upload_id)
        offset = 0
        for segment in state.segments:
            if offset + segment.size > start:
                skip = max(start - offset, 0)
                try:
                    chunks = await self._s3.read_object(segment.key, skip)
                except ClientError as error:
                    if is_missing(error):  # committed or aborted since the state was read
                        raise UnknownUpload(upload_id) from None
                    raise
                async for chunk in chunks:
                    yield chunk
            offset += segment.size

    async def commit(self, upload_id: str, size: int, target: str) -> None:
        state, etag = await self.load(upload_id)
        if state.size != size:
            raise UploadConflict(state.size)
        if not state.sealed:
            state.sealed = True
            try:
                await self._save(upload_id, state, etag)
            except _Superseded:
                raise await self._conflict(upload_id) from None
        await self._compose(state, target)
        await self.abort(upload_id)

    async def _compose(self, state: UploadState, target: str) -> None:
        """Make `target` hold the segments' bytes, appearing at once (or already there)."""
        client = await self._s3.client()
        bucket = self._s3.bucket
        try:
            await client.head_object(Bucket=bucket, Key=target)
            return  # content-addressed: the same blob was stored before
        except ClientError as error:
            if not is_missing(error):
                raise
        if not state.segments:
            await client.put_object(Bucket=bucket, Key=target, Body=b"")
        elif len(state.segments) == 1 and state.size <= MAX_COPY_BYTES:
            await client.copy_object(
                Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": state.segments[0].key}
            )
        else:
            await self._multipart_copy(client, state.segments, target)

    async def _multipart_copy(self, client: S3Client, segments: list[Segment], target: str) -> None:
        bucket = self._s3.bucket
        pieces = [piece for segment in segments for piece in _copy_pieces(segment)]
        multipart_id = (await client.create_multipart_upload(Bucket=bucket, Key=target))["UploadId"]
        limit = asyncio.Semaphore(_COPY_CONCURRENCY)

        async def copy(number: int, key: str, first: int, last: int) -> CompletedPartTypeDef:
            async with limit:
                answer = await client.upload_part_copy(
                    Bucket=bucket, Key=target, UploadId=multipart_id, PartNumber=number,
                    CopySource={"Bucket": bucket, "Key": key}, CopySourceRange=f"bytes={first}-{last}",
                )  # fmt: skip
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        try:
            parts = await asyncio.gather(*(copy(number, *piece) for number, piece in enumerate(pieces, 1)))
            await client.complete_multipart_upload(
                Bucket=bucket, Key=target, UploadId=multipart_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            await abort_multipart(client, bucket, target, multipart_id)
            raise

    async def abort(self, upload_id: str) -> None:
        """Remove the upload's state first (so it reads as unknown), then its segments and parts."""
        folder = self._keys.upload(upload_id)
        await self._s3.delete_keys([self._keys.upload_state(upload_id)])
        await self._s3.delete_keys(await self._s3.keys_under(folder))
        await self.abort_multipart(folder, older_than=None)

    async def abort_multipart(self, prefix: str, older_than: float | None) -> int:
        """Abort the unfinished multipart uploads under `prefix` (begun before `older_than`, if set)."""
        client = await self._s3.client()
        aborted = 0
        async for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self._s3.bucket, Prefix=prefix
        ):
            for upload in page.get("Uploads", []):
                if older_than is not None and upload["Initiated"].timestamp() >= older_than:
                    continue
                await abort_multipart(client, self._s3.bucket, upload["Key"], upload["UploadId"])
                aborted += 1
        return aborted


def _copy_pieces(segment: Segment) -> list[tuple[str, int, int]]:
    """(key, first, last) byte ranges of at most 5 GiB, of equal size so none falls under 5 MiB."""
    count = -(-segment.size // MAX_COPY_BYTES)
    piece = -(-segment.size // count)
    return [(segment.key, start, min(start + piece, segment.size) - 1) for start in range(0, segment.size, piece)]
