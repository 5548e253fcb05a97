"""bcrypt (and directory binds) in a small pool of threads of its own, with a bounded queue.

A bcrypt check costs tens to hundreds of milliseconds of CPU. Run in the event loop's default thread
pool, a burst of wrong passwords queued ahead of the blob writes and hashing that share it and stalled
every push. Here checks run in their own threads, at most `threads` at once with `queue` more waiting;
a check beyond that is refused at once (PasswordChecksBusy) rather than queued behind an attacker's
guesses. Callers already verified lately never come here (their results are cached).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from dockyard.auth import htpasswd, metrics

RETRY_AFTER_SECONDS = 1

T = TypeVar("T")


class PasswordChecksBusy(Exception):
    """Every thread is busy and the queue is full; try again in a moment."""

    def __init__(self) -> None:
        super().__init__("too many password checks at once; retry in a moment")
        self.retry_after = RETRY_AFTER_SECONDS


@functools.cache
def _dummy_hash() -> bytes:
    """Checked against when the user is unknown, so that unknown and known users take the same time."""
    return htpasswd.hash_password(secrets.token_hex(8), cost=htpasswd.DEFAULT_COST)


def _matches(password: bytes, hashed: bytes | None) -> bool:
    return htpasswd.check_password(password, hashed or _dummy_hash()) and hashed is not None


class PasswordChecks:
    def __init__(self, threads: int, queue: int):
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="dockyard-password-check")
        self._capacity = threads + queue
        self._admitted = 0

    async def matches(self, password: str, hashed: bytes | None) -> bool:
        """Whether `password` matches the bcrypt `hashed` (None: an unknown user, which never matches
        but costs the same); raises PasswordChecksBusy when the pool is full."""
        return await self.run(functools.partial(_matches, password.encode(), hashed))

    async def run(self, check: Callable[[], T]) -> T:
        """The result of a blocking credential check (bcrypt, a directory bind) run in the pool;
        raises PasswordChecksBusy when the pool is full."""
        if self._admitted >= self._capacity:
            metrics.PASSWORD_CHECKS_REFUSED.inc()
            raise PasswordChecksBusy
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, check)
        finally:
            self._admitted -= 1
