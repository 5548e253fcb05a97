"""What retention rules decide on: tags with their push and pull times, and untagged manifests."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TagState:
    """A tag as retention rules see it."""

    name: str
    digest: str
    pushed_at: float
    pulled_at: float | None


class RetentionState(Protocol):
    @abstractmethod
    async def record_pulls(self, pulls: Sequence[tuple[str, str, float]]) -> None:
        """Remember (repository, tag, when) pulls; a later time wins."""

    @abstractmethod
    async def tag_states(self, repository: str) -> list[TagState]: ...

    @abstractmethod
    async def delete_unchanged_tags(self, repository: str, tags: Sequence[TagState]) -> list[str]:
        """Delete those tags that still point where they did when read; the names deleted."""

    @abstractmethod
    async def stale_untagged_manifests(self, repository: str, created_before: float) -> list[tuple[str, int]]:
        """(digest, size) of manifests no tag, no index and no live subject holds, created before then."""

    @abstractmethod
    async def delete_stale_untagged_manifests(
        self, repository: str, digests: Sequence[str], created_before: float
    ) -> list[str]:
        """Delete those of `digests` that are still stale and untagged; the digests deleted."""
