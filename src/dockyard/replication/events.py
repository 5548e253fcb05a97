"""Event rules: pushes, tag moves and deletes replicated as they happen, from the persistent outbox.

Each event rule is a consumer of the outbox beside the webhook endpoints: the registry stores the
rule's events in the transaction of the push or delete, so an event is never lost, even to a
SIGKILL. A worker in every process leases the rule's queue, takes its oldest events and replays the
registry's current state for each: the digest a pushed tag points at now (with all its tags), the
deletion of a tag or a manifest. Events that fail because the target is down or refuses us are
retried with a doubling backoff, up to `max_event_retries`; beyond `max_pending_events` the oldest
are dropped. Both are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dockyard.config.replication import Replication
from dockyard.core.manifest import parse_manifest
from dockyard.meta.outbox import Outbox
from dockyard.remote import RemoteDenied, RemoteUnavailable
from dockyard.replication import metrics
from dockyard.replication.copier import Copier, Image, bounded
from dockyard.replication.runner import RuleRunner

log = logging.getLogger(__name__)

_BATCH = 100
_BACKOFF_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 300.0
# The queue's lease only keeps two workers from taking the same batch; the rule's lease (runner.py)
# is what keeps runs apart, so this one may be short: a killed holder's queue is free again soon.
_LEASE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    action: str
    repository: str
    tag: str | None
    digest: str | None


def read_event(event_id: int, payload: str) -> Event | None:
    """The fields replication needs of a stored event, or None for one it cannot read."""
    try:
        document = json.loads(payload)
        target = document["target"]
        return Event(event_id, document["action"], target["repository"], target.get("tag"), target.get("digest"))
    except (ValueError, KeyError, TypeError):
        return None


class EventRule:
    """The outbox consumer and delivery worker of one event rule."""

    def __init__(self, runner: RuleRunner, outbox: Outbox, owner: str, settings: Replication, poll_seconds: float):
        self._runner = runner
        self._rule = runner.rule
        self._outbox = outbox
        self._owner = owner
        self._settings = settings
        self._poll = poll_seconds
        self._wakeup = asyncio.Event()

    @property
    def key(self) -> str:
        return self._rule.event_key

    def wants(self, action: str, repository: str, kind: str) -> bool:
        if kind != "manifests" or not self._rule.covers(repository):
            return False
        return action == "push" or (action == "delete" and self._rule.settings.delete)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        try:
            while True:
                delay = self._poll
                try:
                    if not await paused():
                        delay = await self.step()
                except Exception:
                    log.exception("replication worker for rule %s failed; retrying", self._rule.name)
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), delay)
                    self._wakeup.clear()
        finally:
            with contextlib.suppress(Exception):
                await self._outbox.release_outbox(self.key, self._owner)

    async def step(self) -> float:
        """Handle one batch if there is one; how long to wait before the next step."""
        name = self._rule.name
        batch, dropped = await self._outbox.take_outbox(
            self.key, self._owner, _LEASE_SECONDS, _BATCH, self._settings.max_pending_events
        )
        if dropped:
            metrics.EVENTS_DROPPED.labels(name).inc(dropped)
            log.warning(
                "replication rule %s dropped its %d oldest events: more than %d waited",
                name,
                dropped,
                self._settings.max_pending_events,
            )
        if batch is None:
            return self._poll
        events = [read_event(event_id, payload) for event_id, payload in zip(batch.ids, batch.payloads, strict=True)]
        retry: set[int] = set()
        run = await self._runner.leased(
            "event", lambda copier: self._handle_all(copier, [e for e in events if e], retry)
        )
        if run is None:  # a manual or scheduled run of the rule is going on: its events wait for it
            return self._poll
        done = [event_id for event_id in batch.ids if event_id not in retry]
        if done:
            await self._outbox.ack_outbox(self.key, done)
        if not retry:
            return 0.0
        delay = float(min(_BACKOFF_MAX_SECONDS, _BACKOFF_SECONDS * 2 ** min(batch.failures, 30)))
        given_up = await self._outbox.fail_outbox(
            self.key, sorted(retry), self._settings.max_event_retries + 1, time.time() + delay
        )
        if given_up:
            metrics.EVENTS_FAILED.labels(name).inc(given_up)
            log.warning(
                "replication rule %s gave up %d events after %d failures",
                name,
                given_up,
                self._settings.max_event_retries + 1,
            )
        return min(delay, self._poll)

    async def _handle_all(self, copier: Copier, events: list[Event], retry: set[int]) -> None:
        """Each repository's events in order; repositories side by side. After an event that must be
        retried, the later events of its repository wait too, so that they are replayed in order."""
        by_repository: dict[str, list[Event]] = {}
        for event in events:
            by_repository.setdefault(event.repository, []).append(event)

        async def in_order(queue: list[Event]) -> None:
            for position, event in enumerate(queue):
                try:
                    await self._handle(copier, event)
                except (RemoteUnavailable, RemoteDenied) as error:
                    retry.update(later.id for later in queue[position:])
                    copier.tally.errors.append(f"{event.action} {event.repository}: {error}")
                    return
                except Exception as error:  # this event cannot be replicated: counted, not retried
                    copier.tally.errors.append(f"{event.action} {event.repository}: {error}")

        await bounded(self._settings.concurrency, by_repository.values(), in_order)

    async def _handle(self, copier: Copier, event: Event) -> None:
        rule, source = self._rule, copier.source
        repository, there = event.repository, self._rule.destination(event.repository)
        if event.action == "delete":
            if event.tag is not None and await self._was_copied(copier, repository, there, event.tag):
                await copier.remove_tag(there, event.tag, lambda digest: self._still_tagged(copier, repository, digest))
            elif event.tag is None and event.digest is not None:
                await copier.remove_manifest(there, event.digest)
            return
        digest = await source.resolve(repository, event.tag) if event.tag is not None else event.digest
        if digest is None:
            return  # the tag is gone again: its delete event follows
        tags = tuple(await source.tags_of(repository, digest) or ())
        if any(rule.selects(tag) for tag in tags):
            await copier.copy_image(Image(repository, there, digest, tags))
        elif not tags and rule.settings.referrers and await self._refers_to_copied(copier, repository, there, digest):
            await copier.copy_image(Image(repository, there, digest, ()))

    async def _was_copied(self, copier: Copier, repository: str, there: str, tag: str) -> bool:
        """Whether the rule copied a tag: it selects the tag, or the tag came along with a selected
        tag of its digest (which the source still shows)."""
        if self._rule.selects(tag):
            return True
        digest = await copier.destination.resolve(there, tag)
        return digest is not None and any(
            self._rule.selects(t) for t in await copier.source.tags_of(repository, digest) or ()
        )

    @staticmethod
    async def _still_tagged(copier: Copier, repository: str, digest: str) -> bool:
        return bool(await copier.source.tags_of(repository, digest))

    @staticmethod
    async def _refers_to_copied(copier: Copier, repository: str, there: str, digest: str) -> bool:
        """Whether an untagged manifest is a referrer whose subject the other side holds."""
        manifest = await copier.source.manifest(repository, digest)
        subject = parse_manifest(manifest.body, manifest.media_type).subject
        return subject is not None and await copier.destination.has_manifest(there, str(subject.digest))
