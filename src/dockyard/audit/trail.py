"""The entries of the audit log, made where the registry, the HTTP layer and the commands act."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Sequence
from fnmatch import fnmatchcase

from dockyard.events.envelope import Origin, Target
from dockyard.meta.audit import AuditEntry

# What an entry records (its action); audit/purge.py adds its own.
PUSH = "push"
"""A manifest stored; one entry per tag it was pushed to. An entry with a previous digest moved its tag."""
DELETE = "delete"
"""A manifest, tag or blob removed from a repository."""
PULL = "pull"
LOGIN_FAILED = "login-failed"
READ_ONLY = "read-only"
GC = "gc"
RETENTION = "retention"


class AuditTrail:
    """The audit entries of the registry's changes; a write stores them with itself."""

    def __init__(self, pulls: Sequence[str] = ()):
        self._pull_globs = tuple(pulls)

    def changes(self, action: str, targets: Sequence[Target], origin: Origin | None) -> list[AuditEntry]:
        """One entry per target; a change without an origin is dockyard's own (retention, replication)."""
        actor, client, request_id = (origin.actor, origin.addr, origin.request_id or "") if origin else (None, "", "")
        return [
            AuditEntry(action, actor, client, request_id, target.repository, target.digest, target.tag)
            for target in targets
        ]

    def audits_pulls(self, repository: str) -> bool:
        """Pulls are recorded only where `audit.pulls` asks for them: they are most of the traffic."""
        return any(fnmatchcase(repository, glob) for glob in self._pull_globs)


EVERYTHING = AuditTrail()
"""The default: every change audited, pulls nowhere."""


def operator_entry(action: str, detail: str = "") -> AuditEntry:
    """An action of an operator at the command line: the user running it, on this host."""
    return AuditEntry(action, _operator(), socket.gethostname(), "", detail=detail)


def dockyard_entry(action: str, detail: str = "") -> AuditEntry:
    """An action dockyard took by itself (a background retention run or purge): no actor, this host."""
    return AuditEntry(action, None, socket.gethostname(), "", detail=detail)


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's): the entry still says where
        return None
