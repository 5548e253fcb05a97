"""The error codes of the OCI Distribution Specification, independent of any transport."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(Enum):
    BLOB_UNKNOWN = "blob unknown to registry"
    BLOB_UPLOAD_INVALID = "blob upload invalid"
    BLOB_UPLOAD_UNKNOWN = "blob upload unknown to registry"
    DIGEST_INVALID = "provided digest did not match uploaded content"
    MANIFEST_BLOB_UNKNOWN = "manifest references a manifest or blob unknown to registry"
    MANIFEST_INVALID = "manifest invalid"
    MANIFEST_UNKNOWN = "manifest unknown to registry"
    NAME_INVALID = "invalid repository name"
    NAME_UNKNOWN = "repository name not known to registry"
    SIZE_INVALID = "provided length did not match content length"
    UNAUTHORIZED = "authentication required"
    DENIED = "requested access to the resource is denied"
    UNSUPPORTED = "the operation is unsupported"
    TOO_MANY_REQUESTS = "too many requests"
    # Not in the specification's table, which governs 4xx bodies: Distribution's code for a 5xx
    # answer when something the registry depends on (an upstream registry) fails.
    UNAVAILABLE = "service unavailable"


class RegistryError(Exception):
    """A failure the client caused or must be told about, with the spec's error code."""

    def __init__(self, code: ErrorCode, message: str | None = None, detail: Any = None):
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value
        self.detail = detail


class Unavailable(RegistryError):
    """Something the registry depends on failed: 502 (a bad answer or none), 503 (refusing for now,
    with the seconds to wait when known) or 504 (no answer in time)."""

    def __init__(self, message: str, status: int = 503, retry_after: float | None = None):
        super().__init__(ErrorCode.UNAVAILABLE, message)
        self.status = status
        self.retry_after = retry_after
