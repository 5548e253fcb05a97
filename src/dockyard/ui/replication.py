"""`/v2/_dockyard/replication`: the rules, their last runs and failures, for the UI's Replication
page. Admins only when authentication is on: rule names, targets and error messages say much about
a deployment."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dockyard.core.errors import ErrorCode
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.replication.service import ReplicationService, RuleStatus
from dockyard.ui.api import json_response
from dockyard.ui.session import Sessions, caller


def _rule(status: RuleStatus) -> dict[str, Any]:
    document = asdict(status)
    document["runs"] = [asdict(run) for run in status.runs]
    return document


class ReplicationPage:
    def __init__(self, sessions: Sessions | None, replication: ReplicationService | None):
        self._sessions = sessions
        self._replication = replication

    async def status(self, ctx: Context, req: Request) -> Response:
        if ctx.auth is not None:
            principal = await caller(ctx.auth, self._sessions, req, ctx.failed_logins)
            if principal is None:
                raise HTTPError(401, ErrorCode.UNAUTHORIZED, "log in as an administrator to see replication")
            if not ctx.auth.policy.is_admin(principal):
                raise HTTPError(403, ErrorCode.DENIED, f"{principal.name} is no administrator")
        rules = await self._replication.status() if self._replication is not None else []
        return json_response({"rules": [_rule(status) for status in rules]})
