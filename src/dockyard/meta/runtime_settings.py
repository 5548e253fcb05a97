"""Runtime settings shared by every process and instance on one metadata store."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from dockyard.meta.records import WriteRecord


class RuntimeSettings(Protocol):
    @abstractmethod
    async def read_only(self) -> bool:
        """Whether an operator switched the registry to read-only; may lag a switch by a second."""

    @abstractmethod
    async def set_read_only(self, enabled: bool, records: Sequence[WriteRecord] = ()) -> None:
        """Switch read-only mode; the records (the audit entry of the switch) in the same transaction."""
