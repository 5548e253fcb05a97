"""The error codes of the OCI Distribution Specification, and the store faults no client causes,
independent of any transport."""

from __future__ import annotations

import errno
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
    # Not in the specification's table, which covers 4xx answers: the code of dockyard's 5xx answers
    # when something it depends on fails (a store is full, read-only or unreachable; an upstream
    # registry does not answer), spelt as Distribution spells it.
    UNAVAILABLE = "the registry cannot complete the request now"


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


class StoreFault(Exception):
    """A store cannot do its part for a reason of its own: it is full, read-only or does not answer.

    The message is for the operator's log (it may name paths and hosts); the client is told only
    which of these it is.
    """


class OutOfSpace(StoreFault):
    """The disk, database or bucket quota holding the data is full."""


class ReadOnlyStorage(StoreFault):
    """The storage refuses every write (a filesystem mounted or remounted read-only)."""


class StoreUnavailable(StoreFault):
    """The store did not answer, or failed, within its timeouts and retries."""


_OS_FAULTS: dict[int, type[StoreFault]] = {
    errno.ENOSPC: OutOfSpace,
    errno.EDQUOT: OutOfSpace,
    errno.EROFS: ReadOnlyStorage,
}


def store_fault(error: BaseException) -> StoreFault | None:
    """The fault `error` stands for, if it is one: a StoreFault, or an OSError of a full or read-only disk."""
    if isinstance(error, StoreFault):
        return error
    if isinstance(error, OSError) and error.errno in _OS_FAULTS:
        return _OS_FAULTS[error.errno](str(error))
    return None
