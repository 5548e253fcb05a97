"""Requests and responses as the handlers see them, independent of the server's interface."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from dockyard.auth.policy import Principal
from dockyard.core.decimals import parse_decimal
from dockyard.core.errors import ErrorCode
from dockyard.http.errors import HTTPError
from dockyard.http.limits import RequestLimits, timed_body
from dockyard.proxy import CacheNote


class Request:
    __slots__ = (
        "_limits",
        "_protocol",
        "_query",
        "cache",
        "client",
        "headers",
        "method",
        "namespace",
        "path",
        "principal",
        "query_string",
        "request_id",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Any,
        protocol: Any,
        *,
        client: str = "",
        request_id: str,
        limits: RequestLimits | None = None,
    ):
        self.method = method
        self.request_id = request_id
        self._limits = limits
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self._protocol = protocol
        self._query: dict[str, list[str]] | None = None
        self.client = client
        """The client's address: the peer's `HOST:PORT`, or behind trusted proxies the address they
        name (http/clients.py)."""
        self.principal: Principal | None = None
        """Who the request authenticated as; None when anonymous or when auth is off."""
        self.namespace: str | None = None
        """The `ns` query parameter that chose a pull-through cache's upstream (echoed as OCI-Namespace)."""
        self.cache: CacheNote | None = None
        """How the pull-through cache answered, for the access log and metrics."""

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value

    def query_all(self, name: str) -> list[str]:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True) if self.query_string else {}
        return self._query.get(name, [])

    def query(self, name: str) -> str | None:
        values = self.query_all(name)
        return values[0] if values else None

    def content_length(self) -> int | None:
        value = self.header("content-length")
        if value is None:
            return None
        length = parse_decimal(value)
        if length is None:
            raise HTTPError(400, ErrorCode.SIZE_INVALID, "Content-Length must be a non-negative integer")
        return length

    def body(self) -> AsyncIterable[bytes]:
        """The request body as it arrives, chunked transfer encoding included; 408 when it stalls or
        takes too long (`limits`). Read it once."""
        body: AsyncIterable[bytes] = self._protocol
        return body if self._limits is None else timed_body(body, self._limits)

    async def read_body(self, limit: int) -> bytes:
        """The whole body, refused with 413 beyond `limit` bytes (before reading, when declared)."""
        declared = self.content_length()
        if declared is not None and declared > limit:
            raise _too_large(limit)
        body = bytearray()
        async for chunk in self.body():
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
        return bytes(body)


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, ErrorCode.SIZE_INVALID, f"body larger than the limit of {limit} bytes")


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    """For HEAD, the headers carry the Content-Length of the body that is not sent."""


@dataclass(slots=True)
class FileResponse:
    status: int
    headers: list[tuple[str, str]]
    path: str
    start: int
    end: int


@dataclass(slots=True)
class StreamResponse:
    """A body relayed chunk by chunk; the headers carry its Content-Length."""

    status: int
    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]
    size: int
