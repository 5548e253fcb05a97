"""Browsing: what the web UI lists, repositories and tags with their sizes and push times."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    name: str
    pushed_at: float | None
    tag_count: int
    size: int
    """Bytes of the blobs linked into the repository, each blob counted once."""


@dataclass(frozen=True, slots=True)
class TagSummary:
    name: str
    digest: str
    media_type: str
    size: int
    """Bytes of the manifest itself."""
    pushed_at: float
    total_size: int
    """The manifest and every blob it (or, for an index, its children) references, each counted once."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    total: int
    """Entries matching the filter, on every page."""
    items: list[T]


class Order(Enum):
    """Orders of a listing; `PUSHED` is newest first."""

    NAME = "name"
    NAME_DESC = "-name"
    PUSHED = "pushed"
    PUSHED_OLDEST = "-pushed"


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Which page of a listing: entries containing `search` (any case), in `order`."""

    search: str
    order: Order
    limit: int
    offset: int


class Browsing(Protocol):
    """Filtered by a case-insensitive substring, one page at a time."""

    @abstractmethod
    async def browse_repositories(
        self, query: ListQuery, visible: Callable[[str], bool] | None = None
    ) -> Page[RepositorySummary]:
        """Only repositories whose name `visible` accepts, when it is given."""

    @abstractmethod
    async def browse_tags(self, repository: str, query: ListQuery) -> Page[TagSummary] | None:
        """None when the repository does not exist."""
