"""The cache of verified credentials in front of the credential sources (sources.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

from dockyard.auth.sources import Identity, Sources

_CACHE_LIMIT = 4096


class Verifier:
    """Verifies passwords against the credential sources, caching each result for a short while
    under a keyed hash of the credentials (never the plain text), so a client sending Basic
    credentials on every request pays bcrypt (or a directory bind) once per cache lifetime. Results
    are the verified identity, or None for a failure."""

    def __init__(self, sources: Sources):
        self._sources = sources
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[Identity | None, float, float]] = {}
        self._pending: dict[bytes, asyncio.Future[Identity | None]] = {}
        self._generation = sources.generation

    def key(self, credentials: str) -> bytes:
        """The cache key of credentials as the client sent them (e.g. a Basic header's base64)."""
        return hmac.digest(self._cache_key, credentials.encode(), hashlib.sha256)

    def cached(self, key: bytes) -> tuple[Identity | None, bool] | None:
        """The cached result for the key, None when not known: the identity (None: known wrong), and
        whether it is fresh. A success stays usable for one more lifetime while it is checked again
        in the background, so that a busy client never waits for bcrypt once it has logged in (a
        changed htpasswd file drops every cached result at once)."""
        generation = self._sources.generation
        if self._generation != generation:
            self._cache.clear()
            self._generation = generation
        found = self._cache.get(key)
        if found is None:
            return None
        result, expires, lifetime = found
        now = time.monotonic()
        if now < expires:
            return result, True
        if result is not None and now < expires + lifetime:
            return result, False
        return None

    def checking(self, key: bytes) -> bool:
        """Whether a check of these credentials is under way (a new request joins it)."""
        return key in self._pending

    def _checking(self, key: bytes, name: str, password: str) -> asyncio.Future[Identity | None]:
        """The check of these credentials: concurrent checks share one, so a client opening 64
        connections at once does not start 64."""
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._check(key, name, password))
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return pending

    async def verify(self, key: bytes, name: str, password: str) -> Identity | None:
        """The identity when the password is right, else None; remembered under `key`."""
        return await asyncio.shield(self._checking(key, name, password))

    def recheck(self, key: bytes, name: str, password: str) -> None:
        """Verify again in the background; the next request sees the result."""
        pending = self._checking(key, name, password)
        # A directory that is down now keeps the result it had; nobody awaits this one.
        pending.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _check(self, key: bytes, name: str, password: str) -> Identity | None:
        # bcrypt and binds take tens of milliseconds: off the event loop, in a pool of their own.
        result, lifetime = await self._sources.verify(name, password)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (result, time.monotonic() + lifetime, lifetime)
        return result
