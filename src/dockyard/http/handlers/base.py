"""`/v2/`: the API version check."""

from dockyard.http.context import Context
from dockyard.http.messages import Request, Response


async def version_check(ctx: Context, req: Request) -> Response:  # noqa: ARG001 - uniform handler signature
    return Response(200, [("content-type", "application/json")], b"{}")
