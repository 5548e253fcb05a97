"""Replication's unfinished uploads: the upload URL a target gave a push rule for a large blob, kept
while the blob is on its way, so that the rule's next run (in this process after a failure, or in
any process after a restart or crash) goes on from what the target holds instead of from the start.

The offset is not kept: the target is asked for it when the upload resumes, which is the only
answer that cannot be stale.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class ReplicationUploads(Protocol):
    @abstractmethod
    async def replication_upload(self, rule: str, repository: str, digest: str) -> str | None:
        """The upload URL (path and query on the rule's target) of the rule's unfinished upload of
        the blob into the repository there, or None."""

    @abstractmethod
    async def keep_replication_upload(self, rule: str, repository: str, digest: str, location: str) -> None:
        """Remember where the upload goes on (again, when the target moved it); entries left
        untouched for `STALE_UPLOAD_SECONDS` are dropped meanwhile."""

    @abstractmethod
    async def drop_replication_upload(self, rule: str, repository: str, digest: str) -> None: ...


STALE_UPLOAD_SECONDS = 7 * 24 * 3600.0
"""A week: registries drop unfinished uploads sooner (Distribution after a week, dockyard by
`uploads.stale_after_seconds`), so an older entry could only point at a lost session."""
