"""Revocations: what ends sessions and refresh tokens before they expire, on every instance at once.

A credential version per subject (user), bumped to end everything issued to the subject before; and
single revoked tokens (a logged-out session), each remembered until it would have expired anyway.
What binds a session or token to them is auth/revocation.py's business.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CredentialState:
    version: int
    """The subject's credential version: 0 until it is first bumped."""
    revoked: bool
    """Whether the token asked about was revoked."""


class Revocations(Protocol):
    @abstractmethod
    async def credential_state(self, subject: str, token_id: str) -> CredentialState:
        """The subject's credential version, and whether `token_id` was revoked (in one read)."""

    @abstractmethod
    async def bump_credential_version(self, subject: str) -> int:
        """End everything issued to `subject` so far; the new version."""

    @abstractmethod
    async def revoke_token(self, token_id: str, expires_at: float) -> None:
        """Refuse `token_id` from now on, until `expires_at` (epoch seconds: when it expires anyway);
        revocations already past their expiry are forgotten meanwhile."""
