"""How registry errors look on the wire: the spec's status codes and JSON error body."""

from __future__ import annotations

import json
import math

from dockyard.core.errors import ErrorCode, OutOfSpace, ReadOnlyStorage, RegistryError, StoreFault, Unavailable

STATUS = {
    ErrorCode.BLOB_UNKNOWN: 404,
    ErrorCode.BLOB_UPLOAD_INVALID: 400,
    ErrorCode.BLOB_UPLOAD_UNKNOWN: 404,
    ErrorCode.DIGEST_INVALID: 400,
    ErrorCode.MANIFEST_BLOB_UNKNOWN: 400,
    ErrorCode.MANIFEST_INVALID: 400,
    ErrorCode.MANIFEST_UNKNOWN: 404,
    ErrorCode.NAME_INVALID: 400,
    ErrorCode.NAME_UNKNOWN: 404,
    ErrorCode.SIZE_INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.DENIED: 403,
    ErrorCode.UNSUPPORTED: 405,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class HTTPError(RegistryError):
    """A registry error whose status is not the code's usual one (416, 413, 404 for routes...)."""

    def __init__(
        self, status: int, code: ErrorCode, message: str | None = None, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(code, message)
        self.status = status
        self.headers = headers or []


def fault_error(fault: StoreFault) -> HTTPError:
    """What the client hears of a store fault: no path, host or engine message, only what happened.

    A full store answers 507 Insufficient Storage (RFC 4918: the server cannot store what the
    request needs), which no client retries at once and an operator can alert on apart from
    outages; a read-only or unreachable store answers 503, the status of a condition expected to end.
    """
    if isinstance(fault, OutOfSpace):
        return HTTPError(507, ErrorCode.UNAVAILABLE, "the registry is out of storage space; retry once space is freed")
    if isinstance(fault, ReadOnlyStorage):
        return HTTPError(503, ErrorCode.UNAVAILABLE, "the registry's storage is read-only; only reads are served")
    return HTTPError(503, ErrorCode.UNAVAILABLE, "a store of the registry is unavailable; retry shortly")


def status_of(error: RegistryError) -> int:
    return error.status if isinstance(error, HTTPError | Unavailable) else STATUS[error.code]


def error_headers(error: RegistryError) -> list[tuple[str, str]]:
    """Headers an error carries besides its body: a challenge, Allow, Content-Range, Retry-After."""
    if isinstance(error, HTTPError):
        return error.headers
    if isinstance(error, Unavailable) and error.retry_after is not None:
        return [("retry-after", str(max(1, math.ceil(error.retry_after))))]
    return []


# Where the specification spells a code otherwise than the enum member.
_WIRE_NAMES = {ErrorCode.TOO_MANY_REQUESTS: "TOOMANYREQUESTS"}


def error_body(error: RegistryError) -> bytes:
    code = _WIRE_NAMES.get(error.code, error.code.name)
    entry: dict[str, object] = {"code": code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    return json.dumps({"errors": [entry]}, separators=(",", ":")).encode()
