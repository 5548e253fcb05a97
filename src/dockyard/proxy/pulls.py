"""When cached content was last pulled, for eviction: noted in memory on every pull, written in batches."""

from __future__ import annotations

import time

from dockyard.meta.cache import CacheState

# Bounds memory between flushes; pulls of further items in the same interval go unnoted, which at
# worst lets eviction release an item a little early (it is fetched again on its next pull).
_MAX_PENDING = 100_000


class CachePulls:
    def __init__(self, state: CacheState):
        self._state = state
        self._tags: dict[tuple[str, str], float] = {}
        self._digests: dict[tuple[str, str], float] = {}

    def tag(self, repository: str, tag: str) -> None:
        self._note(self._tags, (repository, tag))

    def digest(self, repository: str, digest: str) -> None:
        self._note(self._digests, (repository, digest))

    @staticmethod
    def _note(pending: dict[tuple[str, str], float], key: tuple[str, str]) -> None:
        if key in pending or len(pending) < _MAX_PENDING:
            pending[key] = time.time()

    async def flush(self) -> None:
        tags, self._tags = self._tags, {}
        digests, self._digests = self._digests, {}
        if tags or digests:
            await self._state.record_cache_pulls(
                [(repository, tag, at) for (repository, tag), at in tags.items()],
                [(repository, digest, at) for (repository, digest), at in digests.items()],
            )
