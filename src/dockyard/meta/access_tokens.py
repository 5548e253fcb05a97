"""Access tokens: personal ones (acting for a user, never beyond the user's rights) and robot ones
(belonging to no person). Only a hash of each secret is stored; what the secret is and how it is
checked is auth/access_tokens.py's business."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.meta.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    token_id: str
    """A public id, to list and revoke the token by."""
    name: str
    owner: str | None
    """The user the token acts for; None for a robot token."""
    repositories: tuple[str, ...]
    """Globs of the repositories it may reach."""
    actions: tuple[str, ...]
    created_at: float
    created_by: str
    expires_at: float | None
    last_used_at: float | None


class DuplicateAccessToken(Exception):
    """The owner (or, for robots, the registry) already has a token of this name."""


class AccessTokens(Protocol):
    @abstractmethod
    async def add_access_token(
        self, record: AccessTokenRecord, secret_hash: str, audit: Sequence[AuditEntry] = ()
    ) -> None:
        """Raises DuplicateAccessToken when the owner already has a token of the record's name; the
        audit entries are stored in the same transaction, with the token."""

    @abstractmethod
    async def access_token_by_hash(self, secret_hash: str) -> AccessTokenRecord | None:
        """The token whose secret hashes to `secret_hash`, expired or not."""

    @abstractmethod
    async def access_tokens(self, owner: str | None = None, *, robots: bool = True) -> list[AccessTokenRecord]:
        """Tokens by name: those of `owner` (every user's when None), and robot tokens when `robots`."""

    @abstractmethod
    async def revoke_access_token(
        self, token_id: str, owner: str | None = None, audit: Sequence[AuditEntry] = ()
    ) -> bool:
        """Delete the token (only if `owner` owns it, when given); whether there was one. The audit
        entries are stored in the same transaction, when there was."""

    @abstractmethod
    async def record_access_token_uses(self, uses: Mapping[str, float]) -> None:
        """Note when tokens were last used (token id -> epoch seconds), in one write."""
