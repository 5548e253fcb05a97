"""The connection to an S3 bucket: one aiobotocore client per process, and the keys dockyard uses.

The client is made on first use, inside the event loop that uses it (its connection pool belongs
to that loop). Custom endpoints (Ceph RGW, MinIO, SeaweedFS) get path-style addressing; with no
endpoint the AWS default for the region applies. Unset keys leave the credentials to the standard
AWS chain (environment, shared files, instance roles).

When S3 misbehaves: every request is tried up to `max_attempts` times (botocore's standard mode:
throttling such as SlowDown, 5xx answers, broken connections and timeouts are retried after an
exponential backoff with jitter, and a retry quota stops retrying while most requests fail). The
requests dockyard makes are idempotent or made safe to repeat where they are used (s3_uploads). No
attempt outlasts its timeouts: `connect_timeout`, `read_timeout` between the bytes of an answer,
and `attempt_timeout` from sending a request to its answer, which also bounds a request body S3
stops taking (aiohttp's own timeouts watch reads only). A download whose body breaks off or stalls
is asked for again from where it stopped. What still fails becomes a StoreFault (fault_of).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from dockyard.core.digest import Digest
from dockyard.core.errors import OutOfSpace, StoreFault, StoreUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

READ_CHUNK_BYTES = 1 << 20
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
_FULL_CODES = frozenset({"QuotaExceeded"})  # Ceph RGW's answer when a bucket or user quota is reached
# A download's body that broke off or stalled: asked for again from where it stopped.
_BROKEN_BODY = (aiohttp.ClientError, BotoCoreError, TimeoutError)
_RESUME_PAUSE_SECONDS = 0.1

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    prefix: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    attempt_timeout: float = 60.0
    max_attempts: int = 4

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
            retries={"total_max_attempts": location.max_attempts, "mode": "standard"},
            # CRC checksums on every request cost CPU and older gateways ignore them; MD5/SigV4 stay.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=64,
            connect_timeout=location.connect_timeout,
            read_timeout=location.read_timeout,
            http_session_cls=_bounded_session(location.attempt_timeout),
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

    async def read_object(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Ask for the bytes [start, end) of an object (to its end if `end` is None); returns once
        S3 answered, then streams the body.

        Raises ClientError (e.g. NoSuchKey) before the first byte, so callers can still answer
        with an error instead of a truncated body. A body that breaks off or stalls is asked for
        again from where it stopped, on the same version of the object (its ETag), up to
        max_attempts times in all; after that the stream ends with StoreUnavailable.
        """
        client = await self.client()
        response = await client.get_object(**self._get_arguments(key, start, end))
        return self._resuming_body(client, key, response, start, end)

    def _get_arguments(self, key: str, start: int, end: int | None, etag: str | None = None) -> dict[str, Any]:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if etag is not None:
            arguments["IfMatch"] = etag
        return arguments

    async def _resuming_body(
        self, client: S3Client, key: str, response: Any, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        etag, position = response["ETag"], start
        for attempt in range(1, self.location.max_attempts + 1):
            body = response["Body"]
            try:
                while chunk := await body.read(READ_CHUNK_BYTES):
                    position += len(chunk)
                    yield chunk
                return
            except _BROKEN_BODY as error:
                if attempt == self.location.max_attempts:
                    raise StoreUnavailable(f"reading {key} from S3 broke off: {explain(error)}") from error
            finally:
                body.close()
            await asyncio.sleep(_RESUME_PAUSE_SECONDS * 2**attempt * random.uniform(0.5, 1.0))
            try:
                response = await client.get_object(**self._get_arguments(key, position, end, etag))
            except (ClientError, BotoCoreError) as error:
                raise StoreUnavailable(f"reading {key} from S3 again: {explain(error)}") from error

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


def _bounded_session(attempt_timeout: float) -> type[AIOHTTPSession]:
    """aiobotocore's HTTP session, each attempt of whose requests gets its answer within
    `attempt_timeout` or fails as a read timeout, which botocore retries."""

    class BoundedSession(AIOHTTPSession):
        async def send(self, request: Any) -> Any:
            try:
                async with asyncio.timeout(attempt_timeout):
                    return await super().send(request)
            except TimeoutError as error:
                raise ReadTimeoutError(endpoint_url=request.url, error=error) from None

    return BoundedSession


def fault_of(error: BaseException) -> StoreFault | None:
    """The store fault a failed S3 call stands for: a full quota, or S3 failing or not answering."""
    if isinstance(error, StoreFault):
        return error
    if isinstance(error, ClientError) and error_code(error) in _FULL_CODES:
        return OutOfSpace(explain(error))
    if isinstance(error, ClientError | BotoCoreError | aiohttp.ClientError | TimeoutError):
        return StoreUnavailable(explain(error))
    return None


def faults_named(call: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Make a store method raise StoreFault for what S3 did wrong, so the client hears a 503 or 507."""

    @functools.wraps(call)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await call(*args, **kwargs)
        except Exception as error:
            _raise_as_fault(error)

    return translated


def faults_named_in(stream: Callable[P, AsyncIterator[T]]) -> Callable[P, AsyncIterator[T]]:
    """faults_named for a method that streams."""

    @functools.wraps(stream)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        try:
            async for item in stream(*args, **kwargs):
                yield item
        except Exception as error:
            _raise_as_fault(error)

    return translated


def _raise_as_fault(error: Exception) -> NoReturn:
    fault = fault_of(error)
    if fault is None or fault is error:
        raise error
    raise fault from error


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
