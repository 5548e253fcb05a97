"""The pieces of an S3 upload: its JSON state, and the writer that streams one segment object."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from dockyard.blobs.s3_client import error_code
from dockyard.core.digest import Hasher

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

PART_BYTES = 8 << 20
MIN_PART_BYTES = 5 << 20
_HASH_BATCH_BYTES = 1 << 20


@dataclass(slots=True)
class Segment:
    key: str
    size: int


@dataclass(slots=True)
class UploadState:
    size: int = 0
    segments: list[Segment] = field(default_factory=list)
    sealed: bool = False

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> UploadState:
        raw = json.loads(data)
        segments = [Segment(str(item["key"]), int(item["size"])) for item in raw["segments"]]
        return cls(int(raw["size"]), segments, bool(raw["sealed"]))

    @property
    def short_tail(self) -> Segment | None:
        """The last segment, if it is too small to be anything but the last part."""
        if self.segments and self.segments[-1].size < MIN_PART_BYTES:
            return self.segments[-1]
        return None


class SegmentWriter:
    """Streams one segment object: a plain PUT if it stays under one part, else a multipart upload."""

    def __init__(self, client: S3Client, bucket: str, key: str, part_bytes: int):
        self._client, self._bucket, self.key, self._part_bytes = client, bucket, key, part_bytes
        # Allocated whole (its pages become resident only as they fill): growing a bytearray by
        # appends reallocates it, briefly holding two copies of the part.
        self._filling = bytearray(part_bytes)
        self._filled = 0
        self._multipart_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._next_part = 1
        self.size = 0

    async def write(self, data: bytes) -> None:
        # Chunks are copied once, into the part being filled; a full part is sent as it is.
        view = memoryview(data)
        self.size += len(view)
        while view:
            taken = min(len(view), self._part_bytes - self._filled)
            self._filling[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == self._part_bytes:
                part, self._filling, self._filled = self._filling, bytearray(self._part_bytes), 0
                await self._send_part(part)

    async def _send_part(self, body: bytearray) -> None:
        if self._multipart_id is None:
            created = await self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key)
            self._multipart_id = created["UploadId"]
        if self._in_flight is not None:
            await self._in_flight  # one part in flight while the next one fills
        self._in_flight = asyncio.ensure_future(self._upload_part(self._next_part, body))
        self._next_part += 1

    async def _upload_part(self, number: int, body: bytearray) -> None:
        assert self._multipart_id is not None
        answer = await self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self._multipart_id, PartNumber=number, Body=_blob(body)
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def finish(self) -> Segment:
        rest = self._filling[: self._filled]
        self._filling, self._filled = bytearray(), 0
        if self._multipart_id is None:
            await self._client.put_object(Bucket=self._bucket, Key=self.key, Body=_blob(rest))
            return Segment(self.key, self.size)
        if rest:
            await self._send_part(rest)
        if self._in_flight is not None:
            await self._in_flight
            self._in_flight = None
        await self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._multipart_id,
            MultipartUpload={"Parts": sorted(self._parts, key=lambda part: part.get("PartNumber", 0))},
        )
        self._multipart_id = None
        return Segment(self.key, self.size)

    async def discard(self) -> None:
        """Drop whatever was sent of this segment (the object itself is deleted by the caller)."""
        if self._in_flight is not None:
            self._in_flight.cancel()
            await asyncio.gather(self._in_flight, return_exceptions=True)
        if self._multipart_id is not None:
            await abort_multipart(self._client, self._bucket, self.key, self._multipart_id)


async def abort_multipart(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Abort a multipart upload; one already gone (aborted by a retried request, or the purge) is fine."""
    try:
        await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as error:
        if error_code(error) != "NoSuchUpload":
            raise


def _blob(buffer: bytearray) -> bytes:
    """botocore sends a bytearray as it is (the stubs only name bytes): no copy of a whole part."""
    return cast(bytes, buffer)


class HashBatches:
    """Feeds a running hash in batches, off the event loop (hashlib releases the GIL)."""

    def __init__(self, hasher: Hasher | None):
        self._hasher = hasher
        self._batch: list[bytes] = []
        self._bytes = 0

    async def add(self, chunk: bytes) -> None:
        if self._hasher is None:
            return
        self._batch.append(chunk)
        self._bytes += len(chunk)
        if self._bytes >= _HASH_BATCH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._hasher is not None and self._batch:
            batch, self._batch, self._bytes = self._batch, [], 0
            await asyncio.get_running_loop().run_in_executor(None, _update_all, self._hasher, batch)


def _update_all(hasher: Hasher, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)
