"""`/v2/_dockyard/audit`: the audit log, newest first a page at a time, for the UI's Audit page.
Administrators only when authentication is on: it names users, addresses and failed logins."""

from __future__ import annotations

from dockyard.audit.export import as_json, parse_since
from dockyard.core.decimals import parse_decimal
from dockyard.core.errors import ErrorCode
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.meta.audit import AuditLog, AuditQuery
from dockyard.ui.api import json_response
from dockyard.ui.session import Sessions, require_admin

_PAGE = 100


def _query(req: Request) -> AuditQuery:
    before = req.query("before")
    before_id = parse_decimal(before) if before else None
    if before and before_id is None:
        raise HTTPError(400, ErrorCode.UNSUPPORTED, "before must be an entry id")
    since_text = req.query("since")
    try:
        since = parse_since(since_text) if since_text else None
    except ValueError:
        raise HTTPError(400, ErrorCode.UNSUPPORTED, "since must be an ISO 8601 time or an age (12h, 7d)") from None
    return AuditQuery(
        repository=req.query("repository") or None,
        actor=req.query("user") or None,
        since=since,
        before_id=before_id,
        newest_first=True,
        limit=_PAGE,
    )


class AuditPage:
    def __init__(self, sessions: Sessions | None, log: AuditLog | None):
        self._sessions = sessions
        self._log = log

    async def entries(self, ctx: Context, req: Request) -> Response:
        """`?repository=&user=&since=&before=<id>`; `next` is the `before` of the next older page."""
        await require_admin(ctx.auth, self._sessions, req, ctx.login_audit, "the audit log")
        query = _query(req)
        records = await self._log.audit_entries(query) if self._log is not None else []
        following = records[-1].id if len(records) == query.limit else None
        return json_response({"entries": [as_json(record) for record in records], "next": following})
