"""The request record of a notification event, taken from the request the way Distribution does."""

from __future__ import annotations

from dockyard.events.envelope import Origin
from dockyard.http.context import Context
from dockyard.http.messages import Request


def _client_addr(req: Request) -> str:
    """Behind a proxy, the client the proxy names; otherwise the peer of the connection."""
    forwarded = req.header("x-forwarded-for")
    if forwarded:
        return forwarded.split(",", 1)[0].strip()
    return req.header("x-real-ip") or req.client


def origin_of(ctx: Context, req: Request) -> Origin:
    return Origin(
        request_id=req.request_id,
        addr=_client_addr(req),
        host=req.header("host") or "",
        method=req.method,
        useragent=req.header("user-agent") or "",
        scheme=req.header("x-forwarded-proto") or ctx.url_scheme,
        actor=req.principal.name if req.principal else None,
    )
