"""What a client is told when upstream fails and the cache has nothing it may serve instead.

Never a 404 and never a 500: 502 when upstream answered badly or not at all (5xx, refused, reset,
an invalid answer), 503 when it asked us to wait (429, or 503 with `Retry-After`) or the client
refuses to dial it for now (a pending `Retry-After`, an open breaker), 504 when it stayed silent.
The message names the upstream and quotes its status; `Retry-After` is passed on when known.
"""

from __future__ import annotations

from dockyard.core.errors import ErrorCode, RegistryError, Unavailable
from dockyard.proxy.upstreams import Upstream
from dockyard.remote import RemoteDenied, RemoteError, RemoteUnavailable

_ASKS_TO_WAIT = frozenset({429, 503})


def upstream_failure(upstream: Upstream, error: RemoteError) -> RegistryError:
    """The client's answer for `error` (any RemoteError but RemoteNotFound, which callers map to the
    resource's own unknown-error)."""
    where = f"upstream {upstream.name}"  # the error names its URL
    if isinstance(error, RemoteDenied):
        return RegistryError(ErrorCode.DENIED, f"{where} refused access: {error}")
    if isinstance(error, RemoteUnavailable):
        if not error.dialled or error.status in _ASKS_TO_WAIT:
            return Unavailable(f"{where} is unavailable: {error}", 503, error.retry_after)
        if error.timed_out:
            return Unavailable(f"{where} did not answer in time: {error}", 504)
        return Unavailable(f"{where} is unavailable: {error}", 502)
    return Unavailable(f"{where} answered something unusable: {error}", 502)


def warning(text: str) -> str:
    """A `Warning` header value in the specification's form: code 299, no agent, a quoted text."""
    return '299 - "' + text.replace("\\", "").replace('"', "'") + '"'
