"""How a call to a remote registry fails, as types the caller can act on.

- `RemoteUnavailable`: try again later (429, 5xx, a timeout, a refused or reset connection, a call the
  client refused to dial because of a pending `Retry-After` or an open breaker).
- `RemoteNotFound`: the remote says the thing does not exist (404).
- `RemoteDenied`: the remote refused us (401/403 after the token flow), or its token realm is not trusted.
- `RemoteInvalid`: the remote answered something the protocol does not allow, or refused what we sent.

Messages name the remote by URL and quote the remote's own error codes and messages (shortened); they
never contain credentials or tokens.
"""

from __future__ import annotations

_MESSAGE_LIMIT = 300


def shorten(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RemoteError(Exception):
    def __init__(self, remote: str, message: str, *, status: int | None = None, codes: tuple[str, ...] = ()):
        super().__init__(f"{remote}: {shorten(message)}")
        self.remote = remote
        self.status = status
        """The HTTP status of the answer, when there was one."""
        self.codes = codes
        """The error codes of the remote's `{"errors": [...]}` body, if any."""


class RemoteUnavailable(RemoteError):
    def __init__(
        self,
        remote: str,
        message: str,
        *,
        status: int | None = None,
        codes: tuple[str, ...] = (),
        retry_after: float | None = None,
        dialled: bool = True,
        timed_out: bool = False,
    ):
        super().__init__(remote, message, status=status, codes=codes)
        self.retry_after = retry_after
        """Seconds after which the remote may be asked again (from `Retry-After`, or a breaker's cooldown)."""
        self.dialled = dialled
        """False when the client failed the call fast without contacting the remote."""
        self.timed_out = timed_out
        """The remote (or the way to it) stayed silent longer than the timeouts allow."""


class RemoteNotFound(RemoteError):
    pass


class RemoteDenied(RemoteError):
    pass


class RemoteInvalid(RemoteError):
    pass
