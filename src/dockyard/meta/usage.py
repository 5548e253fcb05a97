"""What each repository holds, for operators (`dockyard usage`, /metrics)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    """What one repository holds. Blob bytes count each linked blob once (deduplicated within the
    repository); shared bytes are those of its blobs that other repositories link too."""

    repository: str
    manifests: int
    tags: int
    blobs: int
    blob_bytes: int
    shared_bytes: int


class Usage(Protocol):
    @abstractmethod
    async def repository_usage(self, limit: int, after: str | None) -> list[RepositoryUsage]:
        """Usage of repositories in name order after `after`."""
