"""Blob links: blob content is global, and a repository links the blobs it may serve."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from dockyard.meta.records import WriteRecord


class BlobLinks(Protocol):
    @abstractmethod
    async def repository_blob_size(self, repository: str, digest: str) -> int | None: ...

    @abstractmethod
    async def repositories_with_blob(self, digest: str, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` repositories linking the blob, by name, each with the blob's size."""

    @abstractmethod
    async def repository_blob_bytes(self, repository: str) -> int:
        """Bytes of the blobs the repository links, each counted once (0 for an unknown repository)."""

    @abstractmethod
    async def link_blob(self, repository: str, digest: str, size: int) -> None: ...

    @abstractmethod
    async def link_held_blob(self, repository: str, digest: str, records: Sequence[WriteRecord] = ()) -> bool:
        """Link a blob the registry holds into the repository (a mount); False when it no longer
        holds it (garbage collection took it since the caller looked). The records are
        stored only when it was linked."""

    @abstractmethod
    async def unlink_blob(self, repository: str, digest: str, records: Sequence[WriteRecord] = ()) -> bool:
        """The records are stored only when a link was removed."""
