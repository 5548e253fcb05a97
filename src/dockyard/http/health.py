"""Probes for orchestrators: `/healthz` (the process answers) and `/readyz` (its stores answer too)."""

from __future__ import annotations

import json

from dockyard.http.context import Context
from dockyard.http.messages import Response

_JSON = [("content-type", "application/json"), ("cache-control", "no-store")]


async def alive() -> Response:
    """No I/O at all: an answer means the event loop runs."""
    return Response(200, list(_JSON), b'{"status":"ok"}')


async def ready(ctx: Context) -> Response:
    """503 naming each store that failed or did not answer within the configured timeout."""
    unready = await ctx.registry.operations.unready()
    if not unready:
        return Response(200, list(_JSON), b'{"status":"ready"}')
    body = {"status": "unready", "failing": unready}
    return Response(503, list(_JSON), json.dumps(body).encode())
