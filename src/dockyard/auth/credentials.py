"""Checking user names and passwords: the htpasswd file (reloaded when it changes) and a limit on
failed logins per client address (the cache of verified credentials is verifier.py)."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import time
from collections import OrderedDict, deque
from pathlib import Path

from dockyard.auth import htpasswd

log = logging.getLogger(__name__)

_RELOAD_CHECK_SECONDS = 1.0


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
