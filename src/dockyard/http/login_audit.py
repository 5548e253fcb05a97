"""Failed logins into the audit log, where the HTTP layer turns them into 401 answers.

Each is an entry of its own transaction (it changes no content). The failed-login limiter bounds how
many one client can cause; a store that cannot take the entry costs the entry, logged, never the
answer: the client still gets its 401.
"""

from __future__ import annotations

from dockyard.audit.trail import LOGIN_FAILED, record_apart
from dockyard.auth.service import parse_basic
from dockyard.http.messages import Request
from dockyard.meta.audit import AuditEntry, AuditLog


class LoginAudit:
    def __init__(self, audit: AuditLog | None):
        """`audit`: None records nothing (tests of other layers)."""
        self._audit = audit

    async def record(self, req: Request, user: str, how: str) -> None:
        """`how`: the kind of login (basic, password, ui), for the entry's detail. Never the password."""
        if self._audit is None:
            return
        await record_apart(
            self._audit, [AuditEntry(LOGIN_FAILED, user or None, req.client, req.request_id, detail=how)]
        )

    async def record_basic(self, req: Request, credentials: str, how: str = "basic") -> None:
        """The user named by Basic credentials (the part after `Basic `) failed to log in."""
        parsed = parse_basic(credentials)
        await self.record(req, parsed[0] if parsed else "", how)


UNRECORDED = LoginAudit(None)
