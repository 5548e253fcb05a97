"""`/` and `/ui/`: the web UI's static files, served from memory when the UI is enabled."""

from __future__ import annotations

from dockyard.core.errors import ErrorCode
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.ui.assets import Asset

# The UI loads nothing from elsewhere and is never framed; scripts and styles come from files only.
_SECURITY_HEADERS = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
]


def _not_found() -> HTTPError:
    return HTTPError(404, ErrorCode.UNSUPPORTED, "no such API endpoint")


class Pages:
    def __init__(self, assets: dict[str, Asset] | None):
        self._assets = assets
        """The UI's files by name; None when the UI is disabled."""

    def _redirect_to_ui(self) -> Response:
        if self._assets is None:
            raise _not_found()
        return Response(302, [("location", "/ui/")])

    async def root(self, ctx: Context, req: Request) -> Response:  # noqa: ARG002 - uniform handler signature
        return self._redirect_to_ui()

    async def ui_without_slash(self, ctx: Context, req: Request) -> Response:  # noqa: ARG002
        return self._redirect_to_ui()

    async def asset(self, ctx: Context, req: Request, file: str = "index.html") -> Response:  # noqa: ARG002
        found = self._assets.get(file) if self._assets is not None else None
        if found is None:
            raise _not_found()
        headers = [("etag", found.etag), ("cache-control", "no-cache"), *_SECURITY_HEADERS]
        if req.header("if-none-match") == found.etag:
            return Response(304, headers)
        headers += [("content-type", found.content_type), ("content-length", str(len(found.body)))]
        return Response(200, headers, b"" if req.method == "HEAD" else found.body)
