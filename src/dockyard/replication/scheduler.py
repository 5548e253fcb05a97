"""Scheduled rules: each cron time (a slot, in UTC) is run once across every process and instance.

Every process looks at the clock; when a rule's latest slot is newer than the last one taken, it
tries to take that slot together with the rule's lease in one conditional update. One process
wins, the others see the slot taken. A slot that falls due while the rule is running (by hand, or
a slow previous slot) is taken when that run ends; slots missed while no instance ran are made up
by one run, not one per slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from cronsim import CronSim

from dockyard.meta.replication import ReplicationRun, ReplicationState
from dockyard.replication.runner import RuleRunner

log = logging.getLogger(__name__)

# Slots are looked for at least this often, so that one freed by a run that ended is not missed long.
_LOOK_SECONDS = 30.0


def latest_slot(expression: str, now: float) -> float:
    """The latest cron time at or before `now`."""
    start = datetime.fromtimestamp(now, UTC) + timedelta(seconds=1)
    return next(iter(CronSim(expression, start, reverse=True))).timestamp()


def next_slot(expression: str, now: float) -> float:
    """The first cron time after `now`."""
    return next(iter(CronSim(expression, datetime.fromtimestamp(now, UTC)))).timestamp()


class Scheduler:
    def __init__(self, runners: Sequence[RuleRunner], state: ReplicationState):
        self._runners = tuple(runners)
        self._state = state

    def _schedule(self, runner: RuleRunner) -> str:
        schedule = runner.rule.settings.schedule
        assert schedule is not None  # the settings require one for scheduled rules
        return schedule

    async def due(self, runner: RuleRunner, now: float) -> ReplicationRun | None:
        """Run the rule if its latest slot has not been taken; None when nothing was run here."""
        slot = latest_slot(self._schedule(runner), now)
        if slot <= await self._state.replication_slot(runner.rule.name, first_slot=slot):
            return None
        return await runner.run("schedule", slot=slot)

    async def tick(self, now: float) -> list[ReplicationRun]:
        """Run every rule due at `now` and wait for them: what the background loop does, for a given time."""
        runs = await asyncio.gather(*(self.due(runner, now) for runner in self._runners))
        return [run for run in runs if run is not None]

    def next_look(self, now: float) -> float:
        """Seconds until the next slot of any rule, at most _LOOK_SECONDS."""
        slots = [next_slot(self._schedule(runner), now) for runner in self._runners]
        return max(0.5, min([_LOOK_SECONDS, *(slot - now for slot in slots)]))

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """Start due rules as time passes; a rule's run goes on beside the others' slots."""
        if not self._runners:
            return
        running: dict[str, asyncio.Task[ReplicationRun | None]] = {}
        try:
            while True:
                now = time.time()
                try:
                    if not await paused():
                        for runner in self._runners:
                            task = running.get(runner.rule.name)
                            if task is None or task.done():
                                running[runner.rule.name] = asyncio.create_task(self._guarded(runner, now))
                except Exception:
                    log.exception("replication scheduler failed; retrying")
                await asyncio.sleep(self.next_look(now))
        finally:
            for task in running.values():
                task.cancel()

    async def _guarded(self, runner: RuleRunner, now: float) -> ReplicationRun | None:
        try:
            return await self.due(runner, now)
        except Exception:
            log.exception("scheduled run of replication rule %s failed", runner.rule.name)
            return None
