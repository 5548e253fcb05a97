"""How registry errors look on the wire: the spec's status codes and JSON error body."""

from __future__ import annotations

import json

from dockyard.core.errors import ErrorCode, RegistryError

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


def status_of(error: RegistryError) -> int:
    return error.status if isinstance(error, HTTPError) else STATUS[error.code]


# Where the specification spells a code otherwise than the enum member.
_WIRE_NAMES = {ErrorCode.TOO_MANY_REQUESTS: "TOOMANYREQUESTS"}


def error_body(error: RegistryError) -> bytes:
    code = _WIRE_NAMES.get(error.code, error.code.name)
    entry: dict[str, object] = {"code": code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    return json.dumps({"errors": [entry]}, separators=(",", ":")).encode()
