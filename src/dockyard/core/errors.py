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
    UNAVAILABLE = "service unavailable"
    """Not in the specification's table; the code registries answer 503 with (distribution's own)."""


class RegistryError(Exception):
    """A failure the client caused or must be told about, with the spec's error code."""

    def __init__(self, code: ErrorCode, message: str | None = None, detail: Any = None):
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value
        self.detail = detail
