"""Checking user names and passwords: the htpasswd file (reloaded when it changes), a short cache of
bcrypt results, and a limit on failed logins per client address."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import math
import os
import secrets
import time
from collections import deque
from pathlib import Path

from dockyard.auth import htpasswd

log = logging.getLogger(__name__)


@functools.cache
def _dummy_hash() -> bytes:
    """Checked against when the user is unknown, so that unknown and known users take the same time."""
    return htpasswd.hash_password(secrets.token_hex(8), cost=htpasswd.DEFAULT_COST)


_RELOAD_CHECK_SECONDS = 1.0
_CACHE_LIMIT = 4096


class UserFile:
    """The users of an htpasswd file; a changed file is picked up within a second."""

    def __init__(self, path: Path):
        self._path = path
        self._users = htpasswd.load(path)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()
        self.generation = 0
        """Bumped on every reload, so caches of results drop what they knew."""

    def _file_stamp(self) -> tuple[int, int, int]:
        stat = os.stat(self._path)
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < _RELOAD_CHECK_SECONDS:
            return
        self._checked = now
        try:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            self._users = htpasswd.load(self._path)
            self._stamp = stamp
        except (OSError, htpasswd.HtpasswdError) as error:
            log.error("keeping the users loaded before: cannot reload %s: %s", self._path, error)
            return
        self.generation += 1
        log.info("reloaded %d user(s) from %s", len(self._users), self._path)

    def hash_of(self, name: str) -> bytes | None:
        self.refresh()
        return self._users.get(name)

    def exists(self, name: str) -> bool:
        return self.hash_of(name) is not None


class Verifier:
    """Verifies passwords, caching each result for a short while under a keyed hash of the
    credentials (never the plain text), so a client sending Basic credentials on every request
    pays bcrypt once per `cache_seconds`."""

    def __init__(self, users: UserFile, cache_seconds: float):
        self._users = users
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[bool, float]] = {}
        self._generation = users.generation

    def cached(self, name: str, password: str) -> tuple[bytes, bool | None]:
        """The cache key of the credentials and the cached result, if any."""
        key = hmac.digest(self._cache_key, f"{name}\0{password}".encode(), hashlib.sha256)
        self._users.refresh()
        if self._generation != self._users.generation:
            self._cache.clear()
            self._generation = self._users.generation
        found = self._cache.get(key)
        if found is not None and found[1] > time.monotonic():
            return key, found[0]
        return key, None

    async def verify(self, name: str, password: str) -> bool:
        key, result = self.cached(name, password)
        if result is not None:
            return result
        hashed = self._users.hash_of(name)
        # bcrypt takes tens of milliseconds: off the event loop.
        matches = await asyncio.to_thread(htpasswd.check_password, password.encode(), hashed or _dummy_hash())
        result = matches and hashed is not None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (result, time.monotonic() + self._cache_seconds)
        return result


class FailedLogins:
    """At most `limit` failed logins per client address in any minute; past that, the address waits."""

    WINDOW = 60.0

    def __init__(self, limit: int):
        self._limit = limit
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds the address must wait before its next login attempt; 0 when it may try now."""
        now = time.monotonic()
        failures = self._recent(address, now)
        if failures is None or len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + self.WINDOW - now))

    def record_failure(self, address: str) -> None:
        now = time.monotonic()
        failures = self._recent(address, now)
        if failures is None:
            if len(self._failures) >= _CACHE_LIMIT * 16:  # bounded memory when many addresses fail
                self._failures.clear()
            failures = self._failures[address] = deque(maxlen=self._limit)
        failures.append(now)
