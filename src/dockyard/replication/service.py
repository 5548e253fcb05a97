"""Replication as the server and the commands compose it: a runner per rule, a remote client per
target, the event rules' outbox consumers, the scheduler, and the status every view shows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from dockyard.blobs.base import BlobStore
from dockyard.config.replication import Replication
from dockyard.meta.outbox import Outbox
from dockyard.meta.replication import ReplicationRun, ReplicationState
from dockyard.meta.replication_uploads import ReplicationUploads
from dockyard.registry import Registry
from dockyard.remote import RemoteClient, RemoteSettings
from dockyard.replication import metrics
from dockyard.replication.events import EventRule
from dockyard.replication.local import LocalSide, LocalStore
from dockyard.replication.remote_side import RemoteSide
from dockyard.replication.rules import Rule
from dockyard.replication.runner import RuleRunner
from dockyard.replication.scheduler import Scheduler, next_slot
from dockyard.replication.sides import Side

log = logging.getLogger(__name__)

_STATUS_SECONDS = 5.0
_EVENT_POLL_SECONDS = 1.0
_HISTORY = 10


class ReplicationStore(LocalStore, ReplicationState, ReplicationUploads, Outbox, Protocol):
    """What replication reads and writes of the metadata: the registry's content, its own state and
    unfinished uploads, its events."""


@dataclass(frozen=True, slots=True)
class RuleStatus:
    name: str
    direction: str
    target: str
    trigger: str
    schedule: str | None
    pending: int | None
    """Events waiting (event rules)."""
    lag: float | None
    """Seconds the other side may be behind: the oldest waiting event's age (event rules), or the
    time since the last successful run began; None before any."""
    next_run: float | None
    """The next scheduled slot (scheduled rules)."""
    runs: list[ReplicationRun]
    """The newest runs, newest first."""


class ReplicationService:
    def __init__(self, settings: Replication, meta: ReplicationStore, store: BlobStore):
        self.settings = settings
        self._meta = meta
        self._store = store
        self._registry: Registry | None = None
        self._clients: dict[str, RemoteClient] = {}
        self._targets = {target.name: target for target in settings.targets}
        owner = f"{socket.gethostname()}:{os.getpid()}"
        rules = [Rule(rule) for rule in settings.rules]
        self.runners = {
            rule.name: RuleRunner(rule, self._sides_of(rule), meta, owner, settings.concurrency) for rule in rules
        }
        self.consumers = [
            EventRule(runner, meta, owner, settings, _EVENT_POLL_SECONDS)
            for runner in self.runners.values()
            if runner.rule.settings.trigger == "event"
        ]
        scheduled = [runner for runner in self.runners.values() if runner.rule.settings.trigger == "schedule"]
        self.scheduler = Scheduler(scheduled, meta)

    def attach(self, registry: Registry) -> None:
        """The registry replication writes into: composed after this service, since it writes its
        events through the notifier this service's consumers are part of."""
        self._registry = registry

    def _client(self, target: str) -> RemoteClient:
        if target not in self._clients:
            self._clients[target] = RemoteClient(RemoteSettings.of(self._targets[target]))
        return self._clients[target]

    def _sides_of(self, rule: Rule) -> Callable[[], tuple[Side, Side]]:
        """Made once, at the rule's first run (the registry is attached after this service is built)."""
        made: list[tuple[Side, Side]] = []

        def sides() -> tuple[Side, Side]:
            if self._registry is None:
                raise RuntimeError("replication runs before its registry was attached")
            if not made:
                local = LocalSide(self._registry, self._meta, self._store)
                remote = RemoteSide(self._client(rule.settings.target), rule.settings.target, self._meta, rule.name)
                made.append((local, remote) if rule.settings.direction == "push" else (remote, local))
            return made[0]

        return sides

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """The background work of a server process: event rules, scheduled rules, status metrics;
        none on an instance with `replication.run: false` (its writes still queue the event rules'
        events, for the instances that run them)."""
        if not self.runners or not self.settings.run:
            return
        try:
            await asyncio.gather(
                *(consumer.run(paused) for consumer in self.consumers),
                self.scheduler.run(paused),
                self._report_status(),
            )
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the remote clients' connections (a client opens new ones if used again)."""
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()

    async def status(self, now: float | None = None) -> list[RuleStatus]:
        now = time.time() if now is None else now
        return [await self._status_of(runner.rule, now) for runner in self.runners.values()]

    async def _status_of(self, rule: Rule, now: float) -> RuleStatus:
        settings = rule.settings
        runs = await self._meta.replication_runs(rule.name, _HISTORY)
        pending, lag = None, None
        if settings.trigger == "event":
            pending = await self._meta.outbox_pending(rule.event_key)
            oldest = await self._meta.outbox_oldest(rule.event_key)
            lag = 0.0 if oldest is None else max(0.0, now - oldest)
        else:
            succeeded = [run for run in runs if run.result == "succeeded"]
            lag = max(0.0, now - succeeded[0].started_at) if succeeded else None
        next_run = next_slot(settings.schedule, now) if settings.schedule else None
        return RuleStatus(
            rule.name,
            settings.direction,
            settings.target,
            settings.trigger,
            settings.schedule,
            pending,
            lag,
            next_run,
            runs,
        )

    async def _report_status(self) -> None:
        while True:
            try:
                for status in await self.status():
                    if status.pending is not None:
                        metrics.PENDING.labels(status.name).set(status.pending)
                    if status.lag is not None:
                        metrics.LAG.labels(status.name).set(status.lag)
            except Exception:
                log.exception("reading the replication status failed; retrying")
            await asyncio.sleep(_STATUS_SECONDS)
