"""Authentication and authorization of every /v2/ request, in front of the handlers.

Each route and method needs one action on the request's repository (pull, push or delete); the guard
authenticates the request into `req.principal`, asks the policy, and answers 401 with the challenge
(Basic, or Bearer with exactly the scope needed), 403 DENIED (valid credentials without the right, in
Basic mode) or 429 (too many failed logins) before the handler runs.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from dockyard.auth.grants import QUERY_PARAMETER
from dockyard.auth.policy import Action, Principal
from dockyard.auth.service import Authenticator, LoginFailed, TooManyFailures, is_empty_basic
from dockyard.auth.tokens import TokenError, TokenExpired
from dockyard.core.errors import ErrorCode
from dockyard.http.clients import host_of
from dockyard.http.errors import HTTPError
from dockyard.http.login_audit import UNRECORDED, LoginAudit
from dockyard.http.messages import FileResponse, Request, Response, StreamResponse

log = logging.getLogger("dockyard.auth")

Answer = Callable[[], Awaitable[Response | FileResponse | StreamResponse]]

_PULL_ROUTES = frozenset({"tags", "manifest", "blob", "referrers"})
_UPLOAD_ROUTES = frozenset({"upload_start", "upload"})
_SCOPE_ACTIONS = {Action.PULL: "pull", Action.PUSH: "pull,push", Action.DELETE: "delete"}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def needed_action(route: str, method: str) -> Action | None:
    """The action a request needs on its repository; None for routes without one (/v2/, catalog)."""
    if route in _UPLOAD_ROUTES:
        return Action.PUSH
    if method == "DELETE":
        return Action.DELETE
    if route == "manifest" and method == "PUT":
        return Action.PUSH
    if route in _PULL_ROUTES:
        return Action.PULL
    return None


def _scope(repository: str | None, action: Action | None, route: str) -> str | None:
    if route == "catalog":
        return "registry:catalog:*"
    if repository is None or action is None:
        return None
    return f"repository:{repository}:{_SCOPE_ACTIONS[action]}"


class Guard:
    def __init__(
        self,
        auth: Authenticator,
        secure: bool,
        listen: str,
        metrics_token: str | None = None,
        login_audit: LoginAudit = UNRECORDED,
    ):
        """`listen`: the address served, which names the token endpoint when `auth.external_url` is
        unset (only on a loopback address: `dockyard serve` refuses token mode elsewhere without it).
        `metrics_token`: the bearer token that may read /metrics."""
        self._auth = auth
        self._login_audit = login_audit
        self._metrics_token = metrics_token.encode() if metrics_token else None
        external = auth.settings.external_url
        base = external.rstrip("/") if external else f"{'https' if secure else 'http'}://{listen}"
        self.realm = f"{base}/auth/token"
        """The token endpoint's URL: from the configuration only, never from a request's Host header
        (a client would send its credentials wherever the Host named)."""

    def challenge(self, scope: str | None, error: str | None = None) -> str:
        if not self._auth.token_mode:
            return f'Basic realm="{self._auth.settings.realm}",charset="UTF-8"'
        parts = [f'Bearer realm="{self.realm}"', f'service="{self._auth.settings.token.service}"']
        if scope:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return ",".join(parts)

    def _unauthorized(
        self, req: Request, route: str, params: dict[str, str], message: str, error: str | None = None
    ) -> HTTPError:
        # The scope is built only here: the requests that succeed never need it.
        scope = _scope(params.get("name"), needed_action(route, req.method), route)
        header = ("www-authenticate", self.challenge(scope, error))
        return HTTPError(401, ErrorCode.UNAUTHORIZED, message, [header])

    async def metrics(self, req: Request, answer: Answer) -> Response | FileResponse | StreamResponse:
        """/metrics names every repository and its size: only for the configured metrics token or an
        administrator's Basic credentials (in token mode too, since a scraper cannot follow the token
        flow)."""
        kind, _, credentials = (req.header("authorization") or "").partition(" ")
        kind = kind.lower()
        if kind == "bearer" and self._metrics_token is not None:
            if hmac.compare_digest(credentials.strip().encode(), self._metrics_token):
                return await answer()
        elif kind == "basic" and not is_empty_basic(credentials):
            try:
                principal = await self._auth.basic(credentials, client_address(req.client))
            except LoginFailed:
                await self._login_audit.record_basic(req, credentials)
                raise self._metrics_unauthorized("invalid user name or password") from None
            except TooManyFailures as limited:
                raise too_many(limited) from None
            if self._auth.policy.is_admin(principal):
                return await answer()
            raise HTTPError(403, ErrorCode.DENIED, f"{principal.name} is not an administrator")
        raise self._metrics_unauthorized("metrics need the metrics token or an administrator's credentials")

    def _metrics_unauthorized(self, message: str) -> HTTPError:
        challenge = f'Basic realm="{self._auth.settings.realm}",charset="UTF-8"'
        return HTTPError(401, ErrorCode.UNAUTHORIZED, message, [("www-authenticate", challenge)])

    def wrap(self, route: str, params: dict[str, str], req: Request, answer: Answer) -> Answer:
        """`answer` behind the guard (public routes never get here: the app answers them directly)."""
        return lambda: self.guarded(route, params, req, answer)

    async def guarded(
        self, route: str, params: dict[str, str], req: Request, answer: Answer
    ) -> Response | FileResponse | StreamResponse:
        repository = params.get("name")
        action = needed_action(route, req.method)
        principal, via_grant = await self._authenticate(req, route, params)
        req.principal = principal
        if not self._allowed(route, principal, repository, action):
            raise self._refusal(req, route, params, principal, action)
        response = await answer()
        if route in _UPLOAD_ROUTES and principal is not None and repository is not None:
            self._attach_grant(response, repository, principal, via_grant)
        return response

    async def _authenticate(
        self, req: Request, route: str, params: dict[str, str]
    ) -> tuple[Principal | None, str | None]:
        """The caller (None: anonymous) and, when only an upload grant let an expired token through,
        that grant."""
        header = req.header("authorization")
        if header is None:
            return None, None
        kind, _, credentials = header.partition(" ")
        kind = kind.lower()
        if self._auth.token_mode:
            if kind != "bearer" or not credentials.strip():
                raise self._unauthorized(req, route, params, "a Bearer token is required", "invalid_request")
            return self._bearer(req, credentials.strip(), route, params)
        if kind != "basic":
            raise self._unauthorized(req, route, params, "Basic credentials are required")
        if is_empty_basic(credentials):
            return None, None
        try:
            return await self._auth.basic(credentials, client_address(req.client)), None
        except LoginFailed:
            await self._login_audit.record_basic(req, credentials)
            raise self._unauthorized(req, route, params, "invalid user name or password") from None
        except TooManyFailures as limited:
            raise too_many(limited) from None

    def _bearer(self, req: Request, token: str, route: str, params: dict[str, str]) -> tuple[Principal, str | None]:
        assert self._auth.tokens is not None
        try:
            return self._auth.tokens.verifier.verify(token), None
        except TokenExpired as expired:
            grant = req.query(QUERY_PARAMETER)
            upload_id = params.get("upload_id")
            if (
                grant is not None
                and upload_id is not None
                and self._auth.tokens.grants.valid(grant, params["name"], upload_id, expired.principal.name)
            ):
                return expired.principal, grant
            raise self._unauthorized(req, route, params, str(expired), "invalid_token") from None
        except TokenError as refused:
            raise self._unauthorized(req, route, params, str(refused), "invalid_token") from None

    def _allowed(self, route: str, principal: Principal | None, repository: str | None, action: Action | None) -> bool:
        policy = self._auth.policy
        if repository is not None and action is not None:
            return policy.allows(principal, action, repository)
        if route == "catalog":
            return policy.may_list_catalog(principal)
        if route == "usage":
            return policy.is_admin(principal)
        return principal is not None  # /v2/: any authenticated caller

    def _refusal(
        self, req: Request, route: str, params: dict[str, str], principal: Principal | None, action: Action | None
    ) -> HTTPError:
        repository = params.get("name")
        user = "<anonymous>" if principal is None else principal.name or "<anonymous token>"
        log.info(
            "auth decision: user=%s repository=%s action=%s allowed=False",
            user,
            repository or "-",
            action.value if action else route,
        )
        if principal is None:
            return self._unauthorized(req, route, params, "authentication required")
        if principal.access is not None:
            return self._unauthorized(req, route, params, "the token does not grant this access", "insufficient_scope")
        return HTTPError(403, ErrorCode.DENIED, f"{principal.name} may not {_verb(action, route)} {repository or ''}")

    def _attach_grant(
        self,
        response: Response | FileResponse | StreamResponse,
        repository: str,
        principal: Principal,
        via_grant: str | None,
    ) -> None:
        """Let the session's next requests outlive the token; an expired token never extends a grant."""
        if self._auth.tokens is None:
            return
        upload_id = next((value for name, value in response.headers if name == "docker-upload-uuid"), None)
        if upload_id is None:
            return
        grant = via_grant or self._auth.tokens.grants.issue(repository, upload_id, principal.name)
        response.headers[:] = [
            (name, f"{value}?{QUERY_PARAMETER}={grant}" if name == "location" else value)
            for name, value in response.headers
        ]


def _verb(action: Action | None, route: str) -> str:
    return action.value if action is not None else f"use {route} of"


def addressed_host(req: Request, default: str) -> str:
    """The Host the client addressed, when it looks like one (it is echoed into URLs), else `default`."""
    host = req.header("host") or ""
    return host if _HOST.fullmatch(host) else default


def client_address(client: str) -> str:
    """The address failed logins count against: the host of the request's client."""
    return host_of(client)


def too_many(limited: TooManyFailures) -> HTTPError:
    return HTTPError(429, ErrorCode.TOO_MANY_REQUESTS, str(limited), [("retry-after", str(limited.retry_after))])
