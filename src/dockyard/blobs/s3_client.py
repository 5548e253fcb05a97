"""The connection to an S3 bucket: one aiobotocore client per process, and the keys dockyard uses.

The client is made on first use, inside the event loop that uses it (its connection pool belongs
to that loop). Custom endpoints (Ceph RGW, MinIO, SeaweedFS) get path-style addressing; with no
endpoint the AWS default for the region applies. Unset keys leave the credentials to the standard
AWS chain (environment, shared files, instance roles).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.core.digest import Digest

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

READ_CHUNK_BYTES = 1 << 20
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    prefix: str = ""

    def __repr__(self) -> str:  # the secret stays out of every log line and traceback
        return f"S3Location(bucket={self.bucket!r}, endpoint={self.endpoint!r}, prefix={self.prefix!r})"

    def describe(self) -> str:
        where = self.endpoint or f"AWS {self.region}"
        return f"S3 bucket {self.bucket!r} at {where}" + (f", prefix {self.prefix!r}" if self.prefix else "")


class Keys:
    """Where everything lives in the bucket, under the configured prefix."""

    def __init__(self, prefix: str):
        self.root = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.blobs = self.root + "blobs/"

    def blob(self, digest: Digest) -> str:
        return f"{self.blobs}{digest.algorithm}/{digest.encoded}"

    def quarantined(self, digest: Digest) -> str:
        return f"{self.root}quarantine/{digest.algorithm}/{digest.encoded}"

    def upload(self, upload_id: str) -> str:
        """The folder of one upload's objects (upload ids are checked against a strict pattern)."""
        return f"{self.root}uploads/{upload_id}/"

    def upload_state(self, upload_id: str) -> str:
        return self.upload(upload_id) + "state"

    def new_segment(self, upload_id: str) -> str:
        # Unique, so that two racing writers never overwrite each other's bytes.
        return self.upload(upload_id) + "segment-" + uuid.uuid4().hex


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error: ClientError) -> bool:
    return error_code(error) in _MISSING_CODES


class S3Connection:
    def __init__(self, location: S3Location):
        self.location = location
        self.bucket = location.bucket
        self._client: S3Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def client(self) -> S3Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(self._create())
        return self._client  # type: ignore[return-value]  # set above; mypy cannot see through the lock

    def _create(self) -> Any:
        location = self.location
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path" if location.endpoint else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            # CRC checksums on every request cost CPU and older gateways ignore them; MD5/SigV4 stay.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=64,
            connect_timeout=10,
            read_timeout=120,
        )
        return get_session().create_client(
            "s3",
            region_name=location.region,
            endpoint_url=location.endpoint,
            aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key,
            config=config,
        )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def read_object(self, key: str, byte_range: str | None = None) -> AsyncIterator[bytes]:
        """Ask for an object (or a range of it); returns once S3 answered, then streams the body.

        Raises ClientError (e.g. NoSuchKey) before the first byte, so callers can still answer
        with an error instead of a truncated body.
        """
        client = await self.client()
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range is not None:
            arguments["Range"] = byte_range
        response = await client.get_object(**arguments)
        return _body_chunks(response["Body"])

    async def delete_keys(self, keys: list[str]) -> None:
        client = await self.client()
        for start in range(0, len(keys), 1000):  # the most one DeleteObjects request takes
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            await client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]

    async def keys_under(self, prefix: str) -> list[str]:
        client = await self.client()
        keys: list[str] = []
        async for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


async def _body_chunks(body: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await body.read(READ_CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def explain(error: Exception) -> str:
    """A one-line reason for a failed S3 call, never with a credential in it."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}:
            return f"the credentials were refused ({code})"
        if code in {"NoSuchBucket", "404"}:
            return "the bucket does not exist"
        return f"S3 answered {status} {code}"
    if isinstance(error, BotoCoreError):
        return type(error).__name__ + ": " + str(error).splitlines()[0]
    return f"{type(error).__name__}: {error}"
