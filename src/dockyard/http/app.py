"""The RSGI application granian serves: dispatch, error mapping, metrics and the access log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from granian._granian import RSGIProtocolError as ProtocolError
from granian.rsgi import Scope
from prometheus_client import CONTENT_TYPE_LATEST

from dockyard import metrics
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.names import validate_name
from dockyard.http import routes
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError, error_body, status_of
from dockyard.http.messages import FileResponse, Request, Response

log = logging.getLogger("dockyard.http")
access_log = logging.getLogger("dockyard.access")

_API_VERSION = ("docker-distribution-api-version", "registry/2.0")
_MAX_PATH = 4096


def _error_response(error: RegistryError) -> Response:
    headers = [("content-type", "application/json")]
    if isinstance(error, HTTPError):
        headers.extend(error.headers)
    return Response(status_of(error), headers, error_body(error))


def _internal_error() -> Response:
    body = b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}'
    return Response(500, [("content-type", "application/json")], body)


@functools.lru_cache(maxsize=8192)
def _route_for(path: str) -> tuple[routes.Route, dict[str, str]]:
    """The route of a path, with a valid repository name; pulls repeat the same few paths."""
    found = routes.match(path)
    if found is None:
        raise HTTPError(404, ErrorCode.UNSUPPORTED, "no such API endpoint")
    route, params = found
    if "name" in params:
        validate_name(params["name"])
    return route, params


class RegistryApp:
    """One instance per worker process."""

    def __init__(
        self,
        context: Context,
        render_metrics: Callable[[], bytes],
        on_close: Callable[[], Awaitable[None]],
        background: Callable[[], Coroutine[Any, Any, None]] | None = None,
        log_access: bool = True,
        *,
        on_start: Callable[[], Awaitable[None]] | None = None,
    ):
        self._context = context
        self._render_metrics = render_metrics
        self._on_close = on_close
        self._background = background
        self._background_task: asyncio.Task[None] | None = None
        self._log_access = log_access
        self._on_start = on_start

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._on_start is not None:
            loop.run_until_complete(self._on_start())
        if self._background is not None:
            self._background_task = loop.create_task(self._background())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._background_task is not None:
            self._background_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._background_task)
        loop.run_until_complete(self._on_close())

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        started = time.perf_counter()
        path = scope.path
        req = Request(scope.method, path, scope.query_string, scope.headers, protocol, client=scope.client)
        route_name = "unknown"
        try:
            route_name, answer = self._resolve(req)
            response = await answer()
        except RegistryError as error:
            response = _error_response(error)
        except (ProtocolClosed, ProtocolError):
            # The request body broke off; if the client still listens, it learns so.
            log.info("request body of %s %s broke off", scope.method, path)
            response = _error_response(
                RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "the request body ended prematurely")
            )
        except Exception:
            log.exception("internal error answering %s %s", scope.method, path)
            response = _internal_error()
        self._send(protocol, response)
        elapsed = time.perf_counter() - started
        metrics.observe_request(scope.method, route_name, response.status, elapsed)
        if self._log_access:
            access_log.info(
                '%s "%s %s%s" %d %.1fms',
                scope.client,
                scope.method,
                path,
                "?" + scope.query_string if scope.query_string else "",
                response.status,
                elapsed * 1000,
            )

    def _resolve(self, req: Request) -> tuple[str, Callable[[], Awaitable[Response | FileResponse]]]:
        """The route's name (for metrics) and the call that answers the request."""
        if req.path == "/metrics" and req.method == "GET":
            return "metrics", self._metrics_response
        if len(req.path) > _MAX_PATH:
            raise HTTPError(414, ErrorCode.NAME_INVALID, "request path too long")
        route, params = _route_for(req.path)
        handler = route.methods.get(req.method)
        if handler is None:
            raise HTTPError(
                405,
                ErrorCode.UNSUPPORTED,
                f"{req.method} is not supported here",
                [("allow", ", ".join(route.methods))],
            )
        return route.name, functools.partial(handler, self._context, req, **params)

    async def _metrics_response(self) -> Response:
        return Response(200, [("content-type", CONTENT_TYPE_LATEST)], self._render_metrics())

    @staticmethod
    def _send(protocol: Any, response: Response | FileResponse) -> None:
        headers = [_API_VERSION, *response.headers]
        if isinstance(response, FileResponse):
            protocol.response_file_range(response.status, headers, response.path, response.start, response.end)
        elif response.body:
            protocol.response_bytes(response.status, headers, response.body)
        else:
            protocol.response_empty(response.status, headers)
