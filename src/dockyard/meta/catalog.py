"""The catalog: the names of the repositories, in order."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class Catalog(Protocol):
    @abstractmethod
    async def list_repositories(self, limit: int, after: str | None) -> list[str]: ...
