"""One rule's runs: under the rule's lease (so that it never runs twice at once, whichever process,
instance or command starts it), renewed while the run lasts, and recorded when it ends.

A run fails loudly and alone: its reason goes to the log, the metrics and the run history, and
nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from dockyard.meta.replication import ReplicationRun, ReplicationState
from dockyard.replication import metrics
from dockyard.replication.copier import Copier, Plan, Progress, Tally
from dockyard.replication.rules import Rule
from dockyard.replication.sides import Side
from dockyard.replication.throttle import Throttle

log = logging.getLogger(__name__)

# A killed process's rule is free again after this long; a live one renews it every third of it.
LEASE_SECONDS = 30.0
KEEP_RUNS = 50
_MESSAGE_ERRORS = 3

Work = Callable[[Copier], Awaitable[None]]


class Sides(Protocol):
    """The two sides of a rule, made on first use (a remote client belongs to its event loop)."""

    def __call__(self) -> tuple[Side, Side]:
        """(source, destination)."""
        ...


class RuleRunner:
    def __init__(self, rule: Rule, sides: Sides, state: ReplicationState, owner: str, concurrency: int):
        self.rule = rule
        self._sides = sides
        self._state = state
        self._owner = owner
        self._concurrency = concurrency
        self._throttle = Throttle(rule.settings.max_bytes_per_second)

    def copier(self, progress: Progress | None = None) -> Copier:
        source, destination = self._sides()
        return Copier(self.rule, source, destination, self._concurrency, progress=progress, throttle=self._throttle)

    async def plan(self) -> Plan:
        """What a run would copy and delete now (a dry run: reads only, no lease)."""
        return await self.copier().plan()

    async def run(
        self, trigger: str, *, slot: float | None = None, progress: Progress | None = None
    ) -> ReplicationRun | None:
        """Copy what differs; None when the rule is running elsewhere (or `slot` was taken)."""

        async def everything(copier: Copier) -> None:
            await copier.execute(await copier.plan())

        return await self.leased(trigger, everything, slot=slot, progress=progress)

    async def leased(
        self, trigger: str, work: Work, *, slot: float | None = None, progress: Progress | None = None
    ) -> ReplicationRun | None:
        owner = f"{self._owner}/{uuid.uuid4().hex[:12]}"
        if not await self._state.claim_replication(self.rule.name, owner, LEASE_SECONDS, slot):
            return None
        try:
            return await self._record(trigger, slot, await self._heartbeat(owner, work, progress))
        finally:
            with contextlib.suppress(Exception):  # the lease expires by itself
                await self._state.release_replication(self.rule.name, owner)

    async def _heartbeat(self, owner: str, work: Work, progress: Progress | None) -> tuple[float, Tally, str | None]:
        """Run the work while renewing the lease; a lost lease ends the work."""
        started = time.time()
        copier = self.copier(progress)
        task = asyncio.ensure_future(self._attempt(copier, work))
        try:
            while True:
                done, _ = await asyncio.wait([task], timeout=LEASE_SECONDS / 3)
                if done:
                    return started, copier.tally, task.result()
                if not await self._state.renew_replication(self.rule.name, owner, LEASE_SECONDS):
                    task.cancel()
                    return started, copier.tally, "lost the rule's lease (the metadata store was unreachable too long)"
        finally:
            task.cancel()
            await copier.close()

    @staticmethod
    async def _attempt(copier: Copier, work: Work) -> str | None:
        """The work's failure as a message (a failure of the whole run, not of one image), or None."""
        try:
            await work(copier)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the target down, refusing us, or the store failing: the run fails
            return str(error) or type(error).__name__
        return None

    async def _record(
        self, trigger: str, slot: float | None, outcome: tuple[float, Tally, str | None]
    ) -> ReplicationRun:
        started, tally, failure = outcome
        errors = ([failure] if failure else []) + tally.errors
        did_something = tally.manifests + tally.blobs + tally.deletions > 0
        result = "succeeded" if not errors else ("partial" if did_something and not failure else "failed")
        run = ReplicationRun(
            rule=self.rule.name,
            trigger=trigger,
            started_at=started,
            finished_at=time.time(),
            result=result,
            manifests=tally.manifests,
            blobs=tally.blobs,
            bytes=tally.bytes,
            errors=len(errors),
            message="; ".join(errors[:_MESSAGE_ERRORS]) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""),
            slot=slot,
        )
        self._count(run, tally)
        try:
            await self._state.record_replication_run(run, KEEP_RUNS)
        except Exception:
            log.exception("recording the run of replication rule %s failed", self.rule.name)
        return run

    def _count(self, run: ReplicationRun, tally: Tally) -> None:
        name = self.rule.name
        metrics.RUNS.labels(name, run.trigger, run.result).inc()
        metrics.MANIFESTS.labels(name).inc(tally.manifests)
        metrics.BLOBS.labels(name).inc(tally.blobs)
        metrics.BLOB_MOUNTS.labels(name).inc(tally.mounts)
        metrics.BYTES.labels(name).inc(tally.bytes)
        metrics.DELETIONS.labels(name).inc(tally.deletions)
        metrics.ERRORS.labels(name).inc(run.errors)
        metrics.LAST_RUN_FAILED.labels(name).set(0 if run.result == "succeeded" else 1)
        if run.result == "succeeded":
            metrics.LAST_SUCCESS.labels(name).set(run.finished_at)
            log.info(
                "replication rule %s (%s): %d manifests, %d blobs (%d bytes), %d mounted, %d deleted",
                name,
                run.trigger,
                tally.manifests,
                tally.blobs,
                tally.bytes,
                tally.mounts,
                tally.deletions,
            )
        else:
            log.warning("replication rule %s (%s) %s: %s", name, run.trigger, run.result, run.message)
