"""Cross-site request forgery protection for the UI's state-changing calls: a double-submit token.

The token lives in a cookie the page's script can read (SameSite=Strict) and must come back in a
request header. Another site can neither read the cookie nor send a custom header here (no CORS is
ever granted), so a request carrying both, equal, was made by the UI itself. The check needs no
server-side state, so it holds across workers and instances.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import CookieError, SimpleCookie

from dockyard.core.errors import ErrorCode
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request

COOKIE = "dockyard_csrf"
HEADER = "x-dockyard-csrf"


def cookie_value(req: Request, name: str) -> str | None:
    header = req.header("cookie")
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def token_for(req: Request, secure: bool) -> tuple[str, list[tuple[str, str]]]:
    """The request's token, and the header that sets a new one when it had none."""
    token = cookie_value(req, COOKIE)
    if token:
        return token, []
    token = secrets.token_urlsafe(32)
    attributes = "Path=/; SameSite=Strict" + ("; Secure" if secure else "")
    return token, [("set-cookie", f"{COOKIE}={token}; {attributes}")]


def require_token(req: Request) -> None:
    expected = cookie_value(req, COOKIE)
    sent = req.header(HEADER)
    # Tokens are ASCII; compare_digest refuses other text with a TypeError.
    if not expected or not sent or not (expected + sent).isascii() or not hmac.compare_digest(expected, sent):
        raise HTTPError(403, ErrorCode.DENIED, "missing or mismatched CSRF token; reload the page")
