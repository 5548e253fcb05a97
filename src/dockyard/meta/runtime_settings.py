"""Runtime settings shared by every process and instance on one metadata store."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class RuntimeSettings(Protocol):
    @abstractmethod
    async def read_only(self) -> bool:
        """Whether an operator switched the registry to read-only; may lag a switch by a second."""

    @abstractmethod
    async def set_read_only(self, enabled: bool) -> None: ...
