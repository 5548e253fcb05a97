"""`/v2/_dockyard/replication`: the rules, their last runs and failures, for the UI's Replication
page. Admins only when authentication is on: rule names, targets and error messages say much about
a deployment."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dockyard.http.context import Context
from dockyard.http.messages import Request, Response
from dockyard.replication.service import ReplicationService, RuleStatus
from dockyard.ui.api import json_response
from dockyard.ui.session import Sessions, require_admin


def _rule(status: RuleStatus) -> dict[str, Any]:
    document = asdict(status)
    document["runs"] = [asdict(run) for run in status.runs]
    return document


class ReplicationPage:
    def __init__(self, sessions: Sessions | None, replication: ReplicationService | None):
        self._sessions = sessions
        self._replication = replication

    async def status(self, ctx: Context, req: Request) -> Response:
        await require_admin(ctx.auth, self._sessions, req, ctx.login_audit, "replication")
        rules = await self._replication.status() if self._replication is not None else []
        return json_response({"rules": [_rule(status) for status in rules]})
