"""Checking user names and passwords: the htpasswd file (reloaded when it changes), a short cache of
bcrypt results, and a limit on failed logins per client address."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import os
import secrets
import time
from collections import OrderedDict, deque
from pathlib import Path

from dockyard.auth import htpasswd
from dockyard.auth.password_checks import PasswordChecks

log = logging.getLogger(__name__)

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
    pays bcrypt once per `cache_seconds`. Results are the verified user's name, or "" for a failure."""

    def __init__(self, users: UserFile, cache_seconds: float, checks: PasswordChecks):
        self._users = users
        self._checks = checks
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[str, float]] = {}
        self._pending: dict[bytes, asyncio.Future[str]] = {}
        self._generation = users.generation

    def key(self, credentials: str) -> bytes:
        """The cache key of credentials as the client sent them (e.g. a Basic header's base64)."""
        return hmac.digest(self._cache_key, credentials.encode(), hashlib.sha256)

    def cached(self, key: bytes) -> tuple[str | None, bool]:
        """The cached result for the key: a user name, "" (known wrong), or None (not known); and
        whether it is fresh. A success stays usable for one more lifetime while it is checked again
        in the background, so that a busy client never waits for bcrypt once it has logged in (a
        changed htpasswd file drops every cached result at once)."""
        self._users.refresh()
        if self._generation != self._users.generation:
            self._cache.clear()
            self._generation = self._users.generation
        found = self._cache.get(key)
        if found is None:
            return None, False
        result, expires = found
        now = time.monotonic()
        if now < expires:
            return result, True
        if result and now < expires + self._cache_seconds:
            return result, False
        return None, False

    def checking(self, key: bytes) -> bool:
        """Whether a check of these credentials is under way (a new request joins it)."""
        return key in self._pending

    def _checking(self, key: bytes, name: str, password: str) -> asyncio.Future[str]:
        """The bcrypt run for these credentials: concurrent checks share one, so a client opening 64
        connections at once does not start 64."""
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._check(key, name, password))
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return pending

    async def verify(self, key: bytes, name: str, password: str) -> str:
        """The user name when the password is right, else ""; remembered under `key`."""
        return await asyncio.shield(self._checking(key, name, password))

    def recheck(self, key: bytes, name: str, password: str) -> None:
        """Verify again in the background; the next request sees the result."""
        self._checking(key, name, password)

    async def _check(self, key: bytes, name: str, password: str) -> str:
        # bcrypt takes tens of milliseconds: off the event loop, in a pool of its own.
        result = name if await self._checks.matches(password, self._users.hash_of(name)) else ""
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (result, time.monotonic() + self._cache_seconds)
        return result


def client_bucket(address: str) -> str:
    """What failed logins count against: the address, or for IPv6 its /64, since one host commonly
    holds a whole /64 and could otherwise try from a new address each time."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


class FailedLogins:
    """At most `limit` failed logins per client (`client_bucket`) in any minute; past that, it waits.

    A password check counts as a failure from the moment it starts (`attempt`) until it succeeds, so
    that guesses sent in parallel cannot all pass the gate before the first of them has failed. At
    most `capacity` clients are remembered; beyond that the one whose last failure is oldest is
    forgotten (never the whole table, which anyone with enough addresses could otherwise reset)."""

    WINDOW = 60.0

    def __init__(self, limit: int, capacity: int = 65536):
        self._limit = limit
        self._capacity = capacity
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, bucket: str, now: float) -> deque[float] | None:
        failures = self._failures.get(bucket)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[bucket]
            return None
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds the address must wait before its next login attempt; 0 when it may try now."""
        now = time.monotonic()
        failures = self._recent(client_bucket(address), now)
        if failures is None or len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + self.WINDOW - now))

    def attempt(self, address: str) -> int:
        """Start a password check for the address: counted as a failure unless withdrawn. Returns
        the seconds to wait instead (and counts nothing) when the address is over its limit."""
        wait = self.retry_after(address)
        if not wait:
            self.record_failure(address)
        return wait

    def withdraw(self, address: str) -> None:
        """The check `attempt` started did not fail after all (it succeeded, or never ran)."""
        failures = self._failures.get(client_bucket(address))
        if failures:
            failures.pop()

    def record_failure(self, address: str) -> None:
        now = time.monotonic()
        bucket = client_bucket(address)
        failures = self._recent(bucket, now)
        if failures is None:
            while len(self._failures) >= self._capacity:
                self._failures.popitem(last=False)
            failures = self._failures[bucket] = deque(maxlen=self._limit)
        else:
            self._failures.move_to_end(bucket)
        failures.append(now)
