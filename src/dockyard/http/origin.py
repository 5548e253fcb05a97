"""The request record of a notification event, taken from the request the way Distribution does; the
client's address is the one http/clients.py settles on (X-Forwarded-For counts only from trusted proxies)."""

from __future__ import annotations

from dockyard.events.envelope import Origin
from dockyard.http.context import Context
from dockyard.http.messages import Request


def origin_of(ctx: Context, req: Request) -> Origin:
    return Origin(
        request_id=req.request_id,
        addr=req.client,
        host=req.header("host") or "",
        method=req.method,
        useragent=req.header("user-agent") or "",
        scheme=req.header("x-forwarded-proto") or ctx.url_scheme,
        actor=req.principal.name if req.principal else None,
    )
