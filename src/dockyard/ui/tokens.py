"""`/v2/_dockyard/tokens`: a logged-in user's own access tokens (list, create with the secret shown
once, revoke); administrators also see and manage robot tokens. An access-token caller manages none:
a token must not mint tokens."""

from __future__ import annotations

import json
from typing import Any

from dockyard.audit.trail import TOKEN_CREATE, TOKEN_REVOKE
from dockyard.auth.access_tokens import InvalidAccessToken, create_access_token, describe, parse_lifetime
from dockyard.auth.policy import Principal
from dockyard.core.errors import ErrorCode
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.meta.access_tokens import AccessTokens, DuplicateAccessToken
from dockyard.meta.audit import AuditEntry
from dockyard.ui import csrf
from dockyard.ui.api import json_response
from dockyard.ui.session import Sessions, caller

_BODY_MAX_BYTES = 16 * 1024


def _bad_request(message: str) -> HTTPError:
    return HTTPError(400, ErrorCode.UNSUPPORTED, message)


def _strings(document: dict[str, Any], key: str) -> list[str]:
    value = document.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad_request(f"{key} must be a list of strings")
    return value


async def _robot_ids(store: AccessTokens) -> set[str]:
    return {token.token_id for token in await store.access_tokens(None, robots=True) if token.owner is None}


class TokensPage:
    def __init__(self, sessions: Sessions | None, store: AccessTokens | None):
        """`store` is None when access tokens are off."""
        self._sessions = sessions
        self._store = store

    async def _user(self, ctx: Context, req: Request) -> tuple[AccessTokens, Principal, bool]:
        """The store, the caller (a user, logged in) and whether the caller is an administrator."""
        if ctx.auth is None or self._store is None:
            raise HTTPError(404, ErrorCode.UNSUPPORTED, "access tokens are not enabled (auth.access_tokens)")
        principal = await caller(ctx.auth, self._sessions, req, ctx.login_audit)
        if principal is None:
            raise HTTPError(401, ErrorCode.UNAUTHORIZED, "log in to manage your access tokens")
        if principal.limit is not None or principal.access is not None:
            raise HTTPError(403, ErrorCode.DENIED, "tokens are managed by logging in with a password")
        return self._store, principal, ctx.auth.policy.is_admin(principal)

    async def list_tokens(self, ctx: Context, req: Request) -> Response:
        store, principal, admin = await self._user(ctx, req)
        tokens = await store.access_tokens(principal.name, robots=admin)
        return json_response({"tokens": [describe(token) for token in tokens], "robots": admin})

    async def create(self, ctx: Context, req: Request) -> Response:
        csrf.require_token(req)
        store, principal, admin = await self._user(ctx, req)
        try:
            document = json.loads(await req.read_body(_BODY_MAX_BYTES))
        except (ValueError, UnicodeDecodeError):
            raise _bad_request("the body must be a JSON object") from None
        if not isinstance(document, dict):
            raise _bad_request("the body must be a JSON object")
        robot = document.get("robot") is True
        if robot and not admin:
            raise HTTPError(403, ErrorCode.DENIED, "only administrators create robot tokens")
        name, expires = document.get("name"), document.get("expires")
        if not isinstance(name, str) or not (expires is None or isinstance(expires, str)):
            raise _bad_request("name must be a string, expires a string such as 90d or null")
        try:
            created = await create_access_token(
                store,
                name=name,
                owner=None if robot else principal.name,
                repositories=_strings(document, "repositories"),
                actions=_strings(document, "actions"),
                lifetime=parse_lifetime(expires) if expires else None,
                created_by=principal.name,
                audit_as=AuditEntry(TOKEN_CREATE, principal.name, req.client, req.request_id),
            )
        except InvalidAccessToken as error:
            raise _bad_request(str(error)) from None
        except DuplicateAccessToken as error:
            raise HTTPError(409, ErrorCode.UNSUPPORTED, str(error)) from None
        return json_response({"token": describe(created.record), "secret": created.secret}, status=201)

    async def revoke(self, ctx: Context, req: Request, token_id: str) -> Response:
        """Users revoke their own tokens; administrators robot tokens too."""
        csrf.require_token(req)
        store, principal, admin = await self._user(ctx, req)
        audit = [AuditEntry(TOKEN_REVOKE, principal.name, req.client, req.request_id, detail=f"token {token_id}")]
        if await store.revoke_access_token(token_id, owner=principal.name, audit=audit):
            return Response(204)
        if admin and token_id in await _robot_ids(store) and await store.revoke_access_token(token_id, audit=audit):
            return Response(204)
        raise HTTPError(404, ErrorCode.UNSUPPORTED, "no such token of yours")
