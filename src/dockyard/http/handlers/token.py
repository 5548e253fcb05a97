"""`/auth/token`: the token endpoint of the Docker token flow (GET with Basic credentials) and its
OAuth2 form (POST with grant_type=password or refresh_token), which docker and containerd use."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from dockyard.auth.policy import Principal
from dockyard.auth.service import Authenticator, LoginFailed, TooManyFailures
from dockyard.auth.tokens import Scope, TokenError, parse_scope
from dockyard.core.errors import ErrorCode
from dockyard.core.names import validate_name
from dockyard.http.auth import client_address, too_many
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response

_FORM_MAX_BYTES = 64 * 1024
_NO_STORE = ("cache-control", "no-store")


def _authenticator(ctx: Context) -> Authenticator:
    if ctx.auth is None or not ctx.auth.token_mode:
        raise HTTPError(404, ErrorCode.UNSUPPORTED, "token authentication is not enabled")
    return ctx.auth


def _scopes(texts: list[str]) -> list[Scope]:
    """The scopes asked for; a repository's name must be one a repository can have (it is cached and
    logged, and a token for `a/../b` would be a trap for whatever reads it)."""
    scopes = []
    for text in texts:
        scope = parse_scope(text)
        if scope is None:
            raise HTTPError(400, ErrorCode.UNSUPPORTED, f"malformed scope: {text[:200]!r}")
        if scope.type == "repository":
            validate_name(scope.name)
        scopes.append(scope)
    return scopes


def _check_service(auth: Authenticator, service: str | None) -> None:
    expected = auth.settings.token.service
    if service is not None and service != expected:
        raise HTTPError(400, ErrorCode.UNSUPPORTED, f"this token service is {expected!r}")


def _refused(auth: Authenticator, message: str) -> HTTPError:
    challenge = ("www-authenticate", f'Basic realm="{auth.settings.realm}"')
    return HTTPError(401, ErrorCode.UNAUTHORIZED, message, [challenge])


async def _login(ctx: Context, req: Request, user: str, password: str) -> Principal:
    auth = _authenticator(ctx)
    try:
        return await auth.login(user, password, client_address(req.client))
    except LoginFailed:
        await ctx.login_audit.record(req, user, "token endpoint")
        raise _refused(auth, "invalid user name or password") from None
    except TooManyFailures as limited:
        raise too_many(limited) from None


def _json(answer: dict[str, Any]) -> Response:
    body = json.dumps(answer, separators=(",", ":")).encode()
    return Response(200, [("content-type", "application/json"), _NO_STORE], body)


async def get_token(ctx: Context, req: Request) -> Response:
    auth = _authenticator(ctx)
    _check_service(auth, req.query("service"))
    # Repeated `scope` parameters, as docker sends them; space-separated ones are accepted too.
    scopes = _scopes([text for value in req.query_all("scope") for text in value.split()])
    principal = None
    header = req.header("authorization")
    if header is not None:
        kind, _, credentials = header.partition(" ")
        try:
            if kind.lower() != "basic":
                raise LoginFailed
            principal = await auth.basic(credentials, client_address(req.client))
        except LoginFailed:
            await ctx.login_audit.record_basic(req, credentials, "token endpoint")
            raise _refused(auth, "invalid user name or password") from None
        except TooManyFailures as limited:
            raise too_many(limited) from None
    answer = auth.token_for(principal, scopes)
    if principal is not None and req.query("offline_token") == "true":
        refresh_token = await auth.refresh_token(principal)
        if refresh_token is not None:
            answer["refresh_token"] = refresh_token
    return _json(answer)


def _form_value(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


async def post_token(ctx: Context, req: Request) -> Response:
    auth = _authenticator(ctx)
    form = parse_qs((await req.read_body(_FORM_MAX_BYTES)).decode(errors="replace"), keep_blank_values=True)
    _check_service(auth, _form_value(form, "service"))
    scopes = _scopes([text for value in form.get("scope", []) for text in value.split()])
    grant_type = _form_value(form, "grant_type")
    refresh_token = None
    if grant_type == "password":
        principal = await _login(ctx, req, _form_value(form, "username") or "", _form_value(form, "password") or "")
        if _form_value(form, "access_type") == "offline":
            refresh_token = await auth.refresh_token(principal)
    elif grant_type == "refresh_token":
        refresh_token = _form_value(form, "refresh_token") or ""
        try:
            principal = await auth.refreshed_principal(refresh_token)
        except (TokenError, LoginFailed):
            raise _refused(auth, "invalid refresh token") from None
    else:
        raise HTTPError(400, ErrorCode.UNSUPPORTED, "grant_type must be password or refresh_token")
    answer = auth.token_for(principal, scopes)
    answer["scope"] = " ".join(str(scope) for scope in scopes)
    if refresh_token is not None:
        answer["refresh_token"] = refresh_token
    return _json(answer)
