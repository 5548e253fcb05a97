"""The audit log: who did what, from where and when.

Entries for a change (a push, a tag move, a delete) are stored by the write that makes it, in its
transaction (see meta/records.py); entries for what changes no content (a failed login, an admin
action) are appended in a transaction of their own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    """What was done: push, delete, pull, login-failed, read-only, gc, retention, audit-purge, ..."""
    actor: str | None
    """Who: the authenticated user, the operator of a command, or None (anonymous, or unknown)."""
    client: str
    """From where: the client's address, or the host a command ran on."""
    request_id: str
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An entry as stored."""

    id: int
    at: float
    entry: AuditEntry
    previous: str | None
    """For a push to a tag: the digest the tag pointed at before, when the push moved it."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    repository: str | None = None
    actor: str | None = None
    since: float | None = None
    after_id: int = 0
    """Only entries after this one: the cursor of a paged read, oldest first."""
    before_id: int | None = None
    """Only entries before this one: the cursor of a paged read, newest first."""
    newest_first: bool = False
    limit: int = 1000


class AuditLog(Protocol):
    @abstractmethod
    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Entries that describe no write of their own, durably in a transaction of their own."""

    @abstractmethod
    async def audit_entries(self, query: AuditQuery) -> list[AuditRecord]:
        """Matching entries, oldest first unless the query asks for the newest first."""

    @abstractmethod
    async def purge_audit(self, before: float) -> int:
        """Remove the entries older than `before` (epoch seconds); how many there were."""
