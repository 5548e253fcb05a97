"""Upload sessions: started, touched with each chunk, finished by linking their blob, or purged."""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.meta.blob_deletions import BlobDeletions
from dockyard.meta.records import WriteRecord

# A byte deletion normally takes milliseconds; one stuck on a failing blob store makes the claim
# give up rather than hang.
_DELETION_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class UploadSession:
    id: str
    repository: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How many sessions may be open at once, counted over every instance; 0 is no limit."""

    per_repository: int = 0
    per_owner: int = 0


NO_LIMITS = SessionLimits()


class TooManySessions(Exception):
    """Opening one more session would pass a limit: `scope` says which ("repository" or "owner")."""

    def __init__(self, scope: str, limit: int):
        super().__init__(f"{limit} upload sessions are open in this {scope} already")
        self.scope = scope
        self.limit = limit


class Uploads(Protocol):
    @abstractmethod
    async def create_upload(
        self, upload_id: str, repository: str, owner: str | None = None, limits: SessionLimits = NO_LIMITS
    ) -> None:
        """Open a session of `owner` (None: anonymous); raises TooManySessions when the repository,
        or the owner, has as many open as `limits` allows."""

    @abstractmethod
    async def get_upload(self, upload_id: str) -> UploadSession | None: ...

    @abstractmethod
    async def touch_upload(self, upload_id: str) -> None: ...

    @abstractmethod
    async def delete_upload(self, upload_id: str) -> bool: ...

    @abstractmethod
    async def claim_upload_digest(self, upload_id: str, digest: str) -> bool:
        """Mark the session as about to make `digest` visible, so GC leaves that blob alone.

        Returns True while bytes of `digest` are still being deleted: the caller must wait
        (see `BlobDeletions.blob_deletion_pending`) before putting its own bytes in place."""

    @abstractmethod
    async def finish_upload(
        self, upload_id: str, repository: str, digest: str, size: int, records: Sequence[WriteRecord] = ()
    ) -> None:
        """Link the uploaded blob into the repository and end the session, in one transaction."""

    @abstractmethod
    async def count_uploads(self) -> int:
        """Upload sessions started and neither finished nor cancelled (for a metric)."""

    @abstractmethod
    async def claim_stale_uploads(self, updated_before: float, limit: int) -> list[str]:
        """Sessions untouched since `updated_before`, at most `limit`, each handed to one caller
        across all instances; the caller discards them (a claim not discarded comes back later)."""


class UploadClaims(Uploads, BlobDeletions, Protocol):
    """Upload sessions, and the byte deletions a finishing upload must wait out."""


async def claim_digest(meta: UploadClaims, upload_id: str, digest: str) -> bool:
    """Claim `digest` for the session and wait until no older bytes of it are being deleted (else
    the deletion would take the session's bytes once they are in place); False if that wait is too long."""
    pending = await meta.claim_upload_digest(upload_id, digest)
    deadline = time.monotonic() + _DELETION_WAIT_SECONDS
    while pending:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
        pending = await meta.blob_deletion_pending(digest)
    return True
