"""Replication's state: which process runs a rule now (a lease, so that a rule never runs twice at
once across processes and instances), which scheduled time was last taken (so that each scheduled
run happens once), and the history of runs that `dockyard replicate status` and the UI show."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ReplicationRun:
    """One finished run of a rule (an event batch, a scheduled or a manual run)."""

    rule: str
    trigger: str
    """event, schedule or manual."""
    started_at: float
    finished_at: float
    result: str
    """succeeded, failed (nothing could be done: the target was down or refused us) or partial."""
    manifests: int
    blobs: int
    bytes: int
    errors: int
    message: str = ""
    """The first errors, for the operator; never a credential."""
    slot: float | None = None
    """For a scheduled run, the time it was scheduled for."""


class ReplicationState(Protocol):
    @abstractmethod
    async def claim_replication(self, rule: str, owner: str, lease_seconds: float, slot: float | None = None) -> bool:
        """Take the rule's lease for `owner` unless another owner holds it unexpired. With `slot` (a
        scheduled time), only while no run took that slot or a later one, which the claim records."""

    @abstractmethod
    async def renew_replication(self, rule: str, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False when `owner` no longer holds it."""

    @abstractmethod
    async def release_replication(self, rule: str, owner: str) -> None: ...

    @abstractmethod
    async def replication_slot(self, rule: str, first_slot: float) -> float:
        """The last scheduled time taken for the rule; a rule seen for the first time starts at
        `first_slot` (so that it does not run at once for a time long past)."""

    @abstractmethod
    async def record_replication_run(self, run: ReplicationRun, keep: int) -> None:
        """Store a finished run, keeping the rule's `keep` newest."""

    @abstractmethod
    async def replication_runs(self, rule: str, limit: int) -> list[ReplicationRun]:
        """The rule's newest runs, newest first."""
