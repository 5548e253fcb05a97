"""Tags: names in a repository that point at manifests (`Manifests.put_manifest` sets them)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from dockyard.meta.manifests import ManifestRef
from dockyard.meta.records import WriteRecord


class Tags(Protocol):
    @abstractmethod
    async def manifest_by_tag(self, repository: str, tag: str) -> ManifestRef | None: ...

    @abstractmethod
    async def delete_tag(self, repository: str, tag: str, records: Sequence[WriteRecord] = ()) -> bool: ...

    @abstractmethod
    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        """Tags in order after `after`; None when the repository does not exist."""

    @abstractmethod
    async def tags_of_manifest(self, repository: str, digest: str, limit: int) -> list[str]: ...
