"""One upstream fetch per missed item, across every process and instance sharing the metadata store.

A fetch is leased to one owner by a row in the metadata store (`CacheState.take_fill_lease`) that
the owner renews while it works; the others wait for it to end and then find the item stored. If the
owner dies, its lease runs out and a waiter takes over. Within a process, waiters queue on a lock
before they touch the store, so a burst of requests for one item costs one lease round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dockyard.meta.cache import CacheState, FillLease

log = logging.getLogger("dockyard.proxy")

POLL_SECONDS = 0.02
"""How often a waiter looks whether another process's lease has ended."""


@dataclass(slots=True)
class _Waiters:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    count: int = 0


class Leases:
    def __init__(self, state: CacheState, seconds: float):
        self._state = state
        self.seconds = seconds
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"
        self._local: dict[str, _Waiters] = {}

    async def take(self, key: str, upload_id: str = "") -> FillLease | None:
        """The lease for this process, or None while another owner holds it."""
        lease = await self._state.take_fill_lease(key, self.owner, upload_id, self.seconds)
        return lease if lease.owner == self.owner else None

    def mine(self, lease: FillLease) -> bool:
        return lease.owner == self.owner

    @contextlib.asynccontextmanager
    async def turn(self, key: str, *, across_instances: bool = True) -> AsyncIterator[None]:
        """Run the block while no other task (of any process or instance, unless only this process's
        are to take turns) runs one for `key`: the blocks for one key run one after another."""
        async with self.local(key):
            if not across_instances:
                yield
                return
            lease = await self._wait_for(key)
            async with self.renewed(lease):
                yield

    @contextlib.asynccontextmanager
    async def local(self, key: str) -> AsyncIterator[None]:
        """Run the block while no other task of this process runs one for `key` (the owner of a
        lease is the process: its tasks must take turns before they touch it)."""
        waiters = self._local.setdefault(key, _Waiters())
        waiters.count += 1
        try:
            async with waiters.lock:
                yield
        finally:
            waiters.count -= 1
            if waiters.count == 0:
                del self._local[key]

    async def _wait_for(self, key: str) -> FillLease:
        """Another process's lease ends with its work, or runs out if that process died."""
        while True:
            lease = await self.take(key)
            if lease is not None:
                return lease
            await asyncio.sleep(POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def renewed(self, lease: FillLease) -> AsyncIterator[None]:
        """Hold `lease` for the block: renewed in the background, released at the end."""
        renewal = asyncio.create_task(self._renew(lease))
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await asyncio.shield(self._state.release_fill_lease(lease.key, lease.owner))

    async def _renew(self, lease: FillLease) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                await self._state.renew_fill_lease(lease.key, lease.owner, self.seconds)
            except Exception:  # the store may come back before the lease runs out
                log.warning("renewing the lease of %s failed; will retry", lease.key, exc_info=True)
