"""Delivery workers: one per endpoint in every process, coordinated through the outbox.

A worker leases its endpoint in the metadata store, takes the endpoint's oldest events, posts
them as one envelope and removes them once the receiver accepted them (a 2xx answer). Only the
lease holder delivers, so an endpoint receives its events in the order they were stored, and
each once; a holder that dies mid-delivery loses the lease when it expires, and its batch is
sent again by the next holder (at least once, then). A failed batch is retried after an
exponential backoff; after max_retries failures its events are given up and counted.

Nothing here is on a request's path: a hanging receiver holds one worker for at most `timeout`
seconds, and what waits meanwhile waits in the store, bounded by max_pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from dockyard.config.settings import NotificationEndpoint
from dockyard.events import metrics
from dockyard.events.envelope import MEDIA_TYPE, envelope
from dockyard.meta.outbox import Outbox, OutboxBatch

log = logging.getLogger(__name__)


def backoff_seconds(endpoint: NotificationEndpoint, failures: int) -> float:
    """The wait after the failures-th consecutive failure (0-based), capped."""
    return float(min(endpoint.backoff_max_seconds, endpoint.backoff_seconds * 2 ** min(failures, 60)))


class EndpointWorker:
    def __init__(
        self,
        endpoint: NotificationEndpoint,
        meta: Outbox,
        owner: str,
        poll_seconds: float,
    ):
        self._endpoint = endpoint
        self._key = endpoint.key
        self._meta = meta
        self._owner = owner
        self._poll = poll_seconds
        # Longer than the longest delivery, so that a live holder never loses its lease mid-batch.
        self._lease = 2 * endpoint.timeout + 10
        self._wakeup = asyncio.Event()
        self._next_count = 0.0
        headers = {name: value.get_secret_value() for name, value in endpoint.headers.items()}
        headers["content-type"] = MEDIA_TYPE
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=endpoint.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=1),
        )

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        try:
            while True:
                delay = self._poll
                try:
                    if not await paused():
                        delay = await self._step()
                    await self._count_pending()  # a read: it goes on in read-only mode
                except Exception:
                    log.exception("notification worker for %s failed; retrying", self._key)
                if delay > 0:
                    await self._wait(delay)
        finally:
            await self._stop()

    async def _stop(self) -> None:
        await self._client.aclose()
        with contextlib.suppress(Exception):
            await self._meta.release_outbox(self._key, self._owner)

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def _step(self) -> float:
        """Deliver one batch if there is one; returns how long to wait before the next step."""
        endpoint = self._endpoint
        batch, dropped = await self._meta.take_outbox(
            self._key, self._owner, self._lease, endpoint.batch_size, endpoint.max_pending
        )
        if dropped:
            metrics.DROPPED.labels(self._key).inc(dropped)
            log.warning(
                "dropped the %d oldest events for %s: more than %d pending", dropped, self._key, endpoint.max_pending
            )
        if batch is None:
            return self._poll
        if await self._post(batch):
            await self._meta.ack_outbox(self._key, batch.ids)
            metrics.DELIVERED.labels(self._key).inc(len(batch.ids))
            return 0.0
        delay = backoff_seconds(endpoint, batch.failures)
        metrics.ATTEMPTS_FAILED.labels(self._key).inc()
        given_up = await self._meta.fail_outbox(self._key, batch.ids, endpoint.max_retries + 1, time.time() + delay)
        if given_up:
            metrics.FAILED.labels(self._key).inc(given_up)
            log.warning(
                "gave up %d events for %s after %d failed deliveries", given_up, self._key, endpoint.max_retries + 1
            )
        return min(delay, self._poll)

    async def _post(self, batch: OutboxBatch) -> bool:
        try:
            # The client's timeout bounds each phase; this bounds the whole exchange.
            response = await asyncio.wait_for(
                self._client.post(self._endpoint.url, content=envelope(batch.payloads)), self._endpoint.timeout
            )
        except (httpx.HTTPError, TimeoutError) as error:
            # The error's class only: messages may quote the URL, which may carry a credential.
            log.info("delivery to %s failed: %s", self._key, type(error).__name__)
            return False
        if response.is_success:
            return True
        log.info("delivery to %s refused with HTTP %d", self._key, response.status_code)
        return False

    async def _count_pending(self) -> None:
        """A count of the endpoint's rows, at most once a poll interval."""
        now = time.monotonic()
        if now >= self._next_count:
            self._next_count = now + self._poll
            metrics.PENDING.labels(self._key).set(await self._meta.outbox_pending(self._key))
