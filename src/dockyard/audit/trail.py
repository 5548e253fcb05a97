"""The entries of the audit log, made where the registry, the HTTP layer and the commands act."""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Sequence

from dockyard.events.envelope import Origin, Target
from dockyard.meta.audit import AuditEntry, AuditLog

_log = logging.getLogger("dockyard.audit")

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
USER_ADD = "user-add"
USER_NEW_PASSWORD = "user-new-password"  # noqa: S105 - an action, not a password
USER_REMOVE = "user-remove"
USER_LOGOUT = "user-logout"
TOKEN_CREATE = "token-create"  # noqa: S105 - an action, not a token
"""An access token created; the detail names it and whom it acts for, never its secret."""
TOKEN_REVOKE = "token-revoke"  # noqa: S105 - an action, not a token


def change_entries(action: str, targets: Sequence[Target], origin: Origin | None) -> list[AuditEntry]:
    """One entry per target of a change to content, stored by the write that makes it. A change
    without an origin is dockyard's own (retention, replication)."""
    actor, client, request_id = (origin.actor, origin.addr, origin.request_id or "") if origin else (None, "", "")
    return [
        AuditEntry(action, actor, client, request_id, target.repository, target.digest, target.tag)
        for target in targets
    ]


async def record_apart(log: AuditLog, entries: Sequence[AuditEntry]) -> None:
    """Entries of what changes no content (a pull, a failed login), in a transaction of their own. A
    store that cannot take them costs the entries, with a warning, never the request being served."""
    try:
        await log.append_audit(entries)
    except Exception:  # whatever the store's failure, the client's answer goes out regardless
        _log.warning("could not record %s in the audit log", entries[0].action, exc_info=True)


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
