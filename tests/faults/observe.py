"""What an HTTP client observes of a fault: the bytes that arrived, and the error underneath."""

from __future__ import annotations

import httpx


def received(client: httpx.Client, url: str, timeout: httpx.Timeout | None = None) -> tuple[bytes, Exception | None]:
    """The body bytes of a GET that arrived before the transfer ended, and how it ended (None: complete)."""
    parts: list[bytes] = []
    try:
        with client.stream("GET", url, timeout=timeout or client.timeout) as response:
            parts.extend(response.iter_raw())
    except httpx.TransportError as error:
        return b"".join(parts), error
    return b"".join(parts), None


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of a chain (the OSError under httpx's and httpcore's wrappers)."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return error
