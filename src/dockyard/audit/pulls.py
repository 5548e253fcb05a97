"""Pulls recorded where `audit.pulls` asks for them: an entry per manifest pull, in a transaction of
its own (a pull changes nothing to record it with). Off by default: pulls are most of the traffic."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from fnmatch import fnmatchcase

from dockyard.audit.trail import PULL, change_entries, record_apart
from dockyard.events.envelope import Origin, Target
from dockyard.meta.audit import AuditLog


class PullAudit:
    def __init__(self, log: AuditLog, repositories: Sequence[str]):
        """`repositories`: globs of the repositories whose pulls are recorded."""
        self._log = log
        self._globs = tuple(repositories)
        # Few repositories recur; the globs are matched once for each.
        self.wants = functools.lru_cache(maxsize=16_384)(self._matches)

    def _matches(self, repository: str) -> bool:
        return any(fnmatchcase(repository, glob) for glob in self._globs)

    async def record(self, target: Target, origin: Origin) -> None:
        await record_apart(self._log, change_entries(PULL, [target], origin))
