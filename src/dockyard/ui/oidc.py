"""The web UI's login through an OpenID Provider (the protocol: auth/oidc.py).

`/ui/oidc/login` sends the browser to the provider with a fresh state, nonce and PKCE challenge,
and keeps them in a short-lived cookie signed with a key of its own (derived from the session key,
so no instance needs to remember anything). `/ui/oidc/callback` takes the browser back: the state
must match the cookie's, the code is exchanged with the PKCE verifier, and the ID token is verified
(signature, issuer, audience, expiry, nonce). The UI session then issued carries the user's groups
from the ID token; it ends like any other session (logout, `dockyard user logout`, expiry).

The login cookie is SameSite=Lax, not Strict: the provider sends the browser back with a top-level
navigation from its own site, which a Strict cookie would not accompany.
"""

from __future__ import annotations

import hmac

from dockyard.auth.oidc import OidcClient, OidcError, ProviderUnavailable
from dockyard.core.errors import ErrorCode
from dockyard.http.auth import addressed_host
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.ui.csrf import cookie_value
from dockyard.ui.session import Sessions, cookie_header

PURPOSE = "oidc-login"
COOKIE = "dockyard_oidc"
CALLBACK_PATH = "/ui/oidc/callback"
_LOGIN_SECONDS = 600
_MAX_ERROR_LENGTH = 100


def _login_cookie(value: str, max_age: int, secure: bool) -> tuple[str, str]:
    attributes = f"Path=/ui/oidc/; HttpOnly; SameSite=Lax; Max-Age={max_age}" + ("; Secure" if secure else "")
    return "set-cookie", f"{COOKIE}={value}; {attributes}"


def _refused(message: str) -> HTTPError:
    return HTTPError(401, ErrorCode.UNAUTHORIZED, message)


def base_url(ctx: Context, req: Request) -> str:
    """Where browsers reach dockyard: the configured external URL, else the address this request used."""
    external = ctx.auth.settings.external_url if ctx.auth is not None else None
    return external.rstrip("/") if external else f"{ctx.url_scheme}://{addressed_host(req, 'localhost')}"


class OidcLogin:
    """The handlers; `client` is None when `auth.oidc` is not configured."""

    def __init__(self, sessions: Sessions | None, client: OidcClient | None):
        self._sessions = sessions
        self.client = client

    def _enabled(self) -> tuple[Sessions, OidcClient]:
        if self._sessions is None or self.client is None:
            raise HTTPError(404, ErrorCode.UNSUPPORTED, "single sign-on is not configured (auth.oidc)")
        return self._sessions, self.client

    async def login(self, ctx: Context, req: Request) -> Response:
        sessions, client = self._enabled()
        try:
            start = await client.start(base_url(ctx, req) + CALLBACK_PATH)
        except ProviderUnavailable as unavailable:
            raise HTTPError(503, ErrorCode.UNAVAILABLE, str(unavailable)) from None
        pending = sessions.seal(PURPOSE, {"s": start.state, "n": start.nonce, "v": start.verifier}, _LOGIN_SECONDS)
        headers = [("location", start.url), ("cache-control", "no-store")]
        return Response(302, [*headers, _login_cookie(pending, _LOGIN_SECONDS, ctx.secure)])

    async def callback(self, ctx: Context, req: Request) -> Response:
        sessions, client = self._enabled()
        assert ctx.auth is not None  # sessions exist only with auth on
        pending = sessions.unseal(PURPOSE, cookie_value(req, COOKIE) or "")
        if pending is None:
            raise _refused("this login expired or was not started here; log in again")
        state, nonce, verifier = (pending.get(key) for key in ("s", "n", "v"))
        if not (isinstance(state, str) and isinstance(nonce, str) and isinstance(verifier, str)):
            raise _refused("this login expired or was not started here; log in again")
        error = req.query("error")
        if error is not None:
            shown = "".join(c for c in error[:_MAX_ERROR_LENGTH] if c.isalnum() or c in "_-. ")
            raise _refused(f"the identity provider refused the login: {shown}")
        issuer = req.query("iss")  # RFC 9207: which provider answers (a mix-up attack sends another)
        if issuer is not None and issuer.rstrip("/") != client.issuer:
            raise _refused("the login was answered by another identity provider")
        sent_state, code = req.query("state") or "", req.query("code") or ""
        if not sent_state.isascii() or not hmac.compare_digest(sent_state, state):
            raise _refused("the login's state does not match; log in again")
        if not code:
            raise HTTPError(400, ErrorCode.UNSUPPORTED, "the identity provider sent no code")
        try:
            identity = await client.finish(code, base_url(ctx, req) + CALLBACK_PATH, verifier, nonce)
        except OidcError as refused:
            raise _refused(str(refused)) from None
        except ProviderUnavailable as unavailable:
            raise HTTPError(503, ErrorCode.UNAVAILABLE, str(unavailable)) from None
        await ctx.auth.remember_provider_user(identity)
        binding = await ctx.auth.revocation.bind(identity.name)
        session = sessions.issue(identity.name, binding, identity.groups)
        headers = [("location", "/ui/"), ("cache-control", "no-store")]
        headers += [cookie_header(session, sessions.lifetime, ctx.secure), _login_cookie("", 0, ctx.secure)]
        return Response(302, headers)

    async def logout_url(self, ctx: Context, req: Request) -> str | None:
        """Where to send the browser to end the provider's session too, if the provider says."""
        if self.client is None:
            return None
        try:
            provider = await self.client.provider()
        except ProviderUnavailable:
            return None
        return self.client.logout_url(provider, base_url(ctx, req) + "/ui/")
