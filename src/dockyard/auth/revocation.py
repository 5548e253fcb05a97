"""Ending sessions before they expire, on every instance: what every long-lived credential dockyard
issues is checked against.

Access tokens live minutes and are never looked up: they run out. What lives longer, refresh tokens
(`auth.token.refresh_expiry_seconds`, 30 days) and UI sessions (`ui.session_seconds`, 8 hours), is
bound when issued (`Revocation.bind`, carried signed inside the token or cookie) to three things, and
`Revocation.holds` checks all three on every use:

- the subject's credential version, kept in the metadata store (`meta/revocations.py`) so that every
  instance sees a change at once. `end_sessions(subject)` bumps it and so ends everything issued to
  the subject before: `dockyard user logout NAME` does, and so do `dockyard user add` when it changes
  a password and `dockyard user remove`;
- a stamp of the subject's current credential, from where the credential lives (`CredentialStamp`):
  for htpasswd users a digest of the password hash, so that a password changed with any tool
  (`htpasswd -B`, configuration management) ends them too, on each instance as soon as it reads the
  changed file;
- an id of its own (the token's `jti`), which `revoke` refuses from then on until the token would
  have expired anyway: a logout.

A new source of credentials (a directory, an identity provider) passes a stamp of its own, or one
that is always "" where it has nothing to bind to (the version and revocations hold all the same);
whatever the source, `end_sessions` ends a subject's sessions everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.meta.revocations import Revocations

CredentialStamp = Callable[[str], str]
"""The stamp of a subject's current credential: it changes whenever the credential does, and is ""
for a subject the source does not know."""


@dataclass(frozen=True, slots=True)
class Binding:
    """What a session or refresh token carries, signed, to be checked against on each use."""

    version: int
    stamp: str


def password_stamp(hashed: bytes | None) -> str:
    """The stamp of a bcrypt hash: a short digest of it. It gives no way to test a guessed password
    (that needs the hash's salt, which the digest does not reveal)."""
    return hashlib.sha256(hashed).hexdigest()[:16] if hashed else ""


class Revocation:
    def __init__(self, store: Revocations, stamp: CredentialStamp):
        self._store = store
        self._stamp = stamp

    async def bind(self, subject: str) -> Binding:
        """What a session or refresh token issued to `subject` now is bound to."""
        state = await self._store.credential_state(subject, "")
        return Binding(state.version, self._stamp(subject))

    async def holds(self, subject: str, binding: Binding, token_id: str) -> bool:
        """Whether the session or token `token_id`, issued to `subject` with `binding`, still holds:
        same credential, same version, not revoked."""
        if binding.stamp != self._stamp(subject):
            return False
        state = await self._store.credential_state(subject, token_id)
        return not state.revoked and state.version == binding.version

    async def revoke(self, token_id: str, expires_at: float) -> None:
        """End one session or token; `expires_at` is when it expires anyway (epoch seconds)."""
        await self._store.revoke_token(token_id, expires_at)

    async def end_sessions(self, subject: str) -> None:
        """End every session and refresh token issued to `subject` so far, on every instance."""
        await self._store.bump_credential_version(subject)
