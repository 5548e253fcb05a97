"""Notifications as the server composes them: the notifier the registry writes through, the pull
recorder the HTTP layer feeds, and the background work that delivers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence

from dockyard.config.settings import Notifications
from dockyard.events.delivery import EndpointWorker
from dockyard.events.envelope import Source
from dockyard.events.notifier import Consumer, Notifier
from dockyard.events.pulls import PullRecorder
from dockyard.meta.outbox import Outbox


class NotificationService:
    def __init__(self, settings: Notifications, meta: Outbox, port: int, consumers: Sequence[Consumer] = ()):
        """`consumers`: readers of the outbox besides the endpoints, which deliver their events themselves."""
        source = Source.of_this_process(port)
        self.notifier = Notifier(settings.endpoints, source, consumers)
        self.pulls = PullRecorder(self.notifier, meta, settings.pull_buffer) if self.notifier.wants_pulls else None
        owner = f"{source.addr}/{uuid.uuid4()}"
        self._workers = [
            EndpointWorker(endpoint, meta, owner, settings.poll_seconds) for endpoint in settings.endpoints
        ]
        self._consumers = tuple(consumers)
        self.notifier.on_write(self._wake_all)

    def _wake_all(self) -> None:
        for worker in self._workers:
            worker.wake()
        for consumer in self._consumers:
            consumer.wake()

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """Deliver until cancelled, idle while `paused` (read-only mode: the outbox is written to
        as well as read); returns at once when no endpoint is configured."""
        tasks = [worker.run(paused) for worker in self._workers]
        if self.pulls is not None:
            tasks.append(self.pulls.run(paused))
        if tasks:
            await asyncio.gather(*tasks)
