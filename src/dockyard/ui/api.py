"""`/v2/_dockyard/...`: the JSON API of the web UI (its paths: routes.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from dockyard.auth.policy import Action, Principal
from dockyard.core.decimals import parse_decimal
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode
from dockyard.core.names import validate_tag
from dockyard.http.auth import addressed_host
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.http.origin import origin_of
from dockyard.meta.browse import ListQuery, Order, Page, RepositorySummary, TagSummary
from dockyard.registry.browse import BrowseService
from dockyard.ui import csrf
from dockyard.ui.oidc import OidcLogin
from dockyard.ui.session import Sessions, basic_login, caller, cookie_header, current_session, require

_DEFAULT_PAGE = 50
_MAX_SEARCH = 255


def _bad_parameter(message: str) -> HTTPError:
    return HTTPError(400, ErrorCode.UNSUPPORTED, message)


def json_response(document: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(
        status, [("content-type", "application/json"), ("cache-control", "no-store"), *(headers or [])], body
    )


def _number(req: Request, name: str, default: int) -> int:
    value = req.query(name)
    if value is None or value == "":
        return default
    number = parse_decimal(value, max_digits=9)
    if number is None:
        raise _bad_parameter(f"{name} must be a non-negative integer")
    return number


def _listing_query(req: Request) -> ListQuery:
    search = req.query("q") or ""
    if len(search) > _MAX_SEARCH:
        raise _bad_parameter(f"q must be at most {_MAX_SEARCH} characters")
    if not search.isprintable():  # no name holds a control character; PostgreSQL refuses NUL
        raise _bad_parameter("q must be printable text")
    try:
        order = Order(req.query("sort") or Order.NAME.value)
    except ValueError:
        raise _bad_parameter("sort must be one of " + ", ".join(o.value for o in Order)) from None
    return ListQuery(search, order, _number(req, "n", _DEFAULT_PAGE) or _DEFAULT_PAGE, _number(req, "offset", 0))


def _page(key: str, page: Page[Any], offset: int, rows: list[dict[str, Any]], **extra: Any) -> Response:
    return json_response({**extra, key: rows, "total": page.total, "offset": offset})


def _repository_row(ctx: Context, repository: RepositorySummary) -> dict[str, Any]:
    return {
        "name": repository.name,
        "tagCount": repository.tag_count,
        "size": repository.size,
        "lastPush": repository.pushed_at,
        "cacheOf": _cache_of(ctx, repository.name),
    }


def _cache_of(ctx: Context, repository: str) -> dict[str, str] | None:
    """The upstream a cache repository of the pull-through cache caches (None for other repositories)."""
    route = None if ctx.registry.cache is None else ctx.registry.cache.route(repository)
    if route is None:
        return None
    return {"upstream": route.upstream.name, "url": route.upstream.url, "repository": route.repository}


def _tag_row(tag: TagSummary) -> dict[str, Any]:
    return {
        "name": tag.name,
        "digest": tag.digest,
        "mediaType": tag.media_type,
        "size": tag.size,
        "totalSize": tag.total_size,
        "pushed": tag.pushed_at,
    }


def _browse(ctx: Context) -> BrowseService:
    if ctx.registry.browse is None:
        raise HTTPError(404, ErrorCode.UNSUPPORTED, "this server does not answer the UI's API")
    return ctx.registry.browse


def _registry_host(ctx: Context, req: Request) -> str:
    """How clients name this registry in pull commands: the configured external URL's host (behind a
    reverse proxy), else the Host this request addressed."""
    external = ctx.auth.settings.external_url if ctx.auth is not None else None
    return urlsplit(external).netloc if external else addressed_host(req, "localhost:5000")


class Api:
    """The API's handlers; `sessions` signs the UI's session cookies (None when auth is off)."""

    def __init__(self, sessions: Sessions | None, oidc: OidcLogin):
        self._sessions = sessions
        self._oidc = oidc

    async def _caller(self, ctx: Context, req: Request) -> Principal | None:
        return await caller(ctx.auth, self._sessions, req, ctx.login_audit)

    async def _authorized(self, ctx: Context, req: Request, action: Action, repository: str) -> None:
        require(ctx.auth, await self._caller(ctx, req), action, repository)

    async def repositories(self, ctx: Context, req: Request) -> Response:
        """Only the repositories the caller may pull."""
        query = _listing_query(req)
        visible = ctx.access.catalog_filter(await self._caller(ctx, req))
        page = await _browse(ctx).repositories(query, visible)
        return _page("repositories", page, query.offset, [_repository_row(ctx, row) for row in page.items])

    async def tags(self, ctx: Context, req: Request, name: str) -> Response:
        await self._authorized(ctx, req, Action.PULL, name)
        query = _listing_query(req)
        page = await _browse(ctx).tags(name, query)
        return _page("tags", page, query.offset, [_tag_row(row) for row in page.items], repository=name)

    async def manifest(self, ctx: Context, req: Request, name: str, reference: str) -> Response:
        await self._authorized(ctx, req, Action.PULL, name)
        view = await _browse(ctx).manifest(name, reference, _registry_host(ctx, req))
        return json_response(view)

    async def rights(self, ctx: Context, req: Request, name: str) -> Response:
        """What the caller may do on the repository, so that the UI offers nothing else."""
        principal = await self._caller(ctx, req)
        policy = ctx.auth.policy if ctx.auth is not None else None
        cache_of = _cache_of(ctx, name)
        allowed = {
            action.value: (policy is None or policy.allows(principal, action, name))
            and (cache_of is None or action is Action.PULL)  # cache repositories take no writes
            for action in (Action.PULL, Action.PUSH, Action.DELETE)
        }
        return json_response({"repository": name, **allowed, "cacheOf": cache_of})

    async def session(self, ctx: Context, req: Request) -> Response:
        """Who is logged in, whether logging in is possible, and the CSRF token for the UI's writes."""
        principal = await self._caller(ctx, req)
        token, cookie = csrf.token_for(req, ctx.secure)
        body = {"user": principal.name if principal else None, "authEnabled": ctx.auth is not None, "csrf": token}
        body["singleSignOn"] = ctx.auth is not None and self._oidc.client is not None
        return json_response(body, headers=cookie)

    async def log_in(self, ctx: Context, req: Request) -> Response:
        csrf.require_token(req)
        if ctx.auth is None or self._sessions is None:
            raise HTTPError(404, ErrorCode.UNSUPPORTED, "authentication is off: there is nothing to log in to")
        principal = await basic_login(ctx.auth, req, ctx.login_audit)
        if principal.limit is not None:  # a session would carry the owner's full rights
            raise HTTPError(401, ErrorCode.UNAUTHORIZED, "an access token cannot log in to the UI")
        sessions = self._sessions
        binding = await ctx.auth.revocation.bind(principal.name)
        cookie = cookie_header(sessions.issue(principal.name, binding), sessions.lifetime, ctx.secure)
        return json_response({"user": principal.name}, headers=[cookie])

    async def log_out(self, ctx: Context, req: Request) -> Response:
        """Clears the cookie, and revokes its session: a copy of the cookie is worth nothing either.
        A session from the identity provider is answered with where to end the provider's too."""
        csrf.require_token(req)
        session = current_session(self._sessions, req)
        if session is not None and ctx.auth is not None:
            await ctx.auth.revocation.revoke(session.session_id, session.expires)
        cleared = cookie_header("", 0, ctx.secure)
        if session is not None and session.groups is not None:
            provider_logout = await self._oidc.logout_url(ctx, req)
            if provider_logout is not None:
                return json_response({"providerLogout": provider_logout}, headers=[cleared])
        return Response(204, [cleared])

    async def delete_tag(self, ctx: Context, req: Request, name: str, tag: str) -> Response:
        csrf.require_token(req)
        principal = req.principal = await self._caller(ctx, req)
        require(ctx.auth, principal, Action.DELETE, name)
        validate_tag(tag)
        await _browse(ctx).delete(name, tag, ctx.access.tag_moves(principal, name), origin_of(ctx, req))
        return Response(204)

    async def delete_manifest(self, ctx: Context, req: Request, name: str, reference: str) -> Response:
        """By digest only: deleting by tag is the tag route's business."""
        csrf.require_token(req)
        principal = req.principal = await self._caller(ctx, req)
        require(ctx.auth, principal, Action.DELETE, name)
        digest = str(Digest.parse(reference))
        await _browse(ctx).delete(name, digest, ctx.access.tag_moves(principal, name), origin_of(ctx, req))
        return Response(204)
