"""Last-pull times of tags, for retention: noted in memory on every pull, written in batches."""

from __future__ import annotations

import time

from dockyard.meta.retention import RetentionState

# Bounds memory between flushes; pulls of further tags in the same interval go unnoted, which
# only makes retention keep less on the strength of a pull it did not hear of.
_MAX_PENDING = 100_000


class PullLog:
    def __init__(self, meta: RetentionState):
        self._meta = meta
        self._pending: dict[tuple[str, str], float] = {}

    def note(self, repository: str, tag: str) -> None:
        key = (repository, tag)
        if key in self._pending or len(self._pending) < _MAX_PENDING:
            self._pending[key] = time.time()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            await self._meta.record_pulls([(repository, tag, at) for (repository, tag), at in pending.items()])
