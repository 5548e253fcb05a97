"""The RSGI application granian serves: dispatch, error mapping, metrics, probes and the access log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
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
from dockyard.http import health, routes
from dockyard.http.accesslog import REQUEST_ID_HEADER, AccessLog, RequestIds
from dockyard.http.auth import Guard
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError, error_body, status_of
from dockyard.http.messages import FileResponse, Request, Response, StreamResponse
from dockyard.http.monitor import Monitor
from dockyard.http.relay import relay
from dockyard.http.tracing import RequestTracer
from dockyard.registry.operations import READ_ONLY_MESSAGE

log = logging.getLogger("dockyard.http")

_API_VERSION = ("docker-distribution-api-version", "registry/2.0")
_MAX_PATH = 4096
_READ_METHODS = frozenset({"GET", "HEAD"})
_PROBES = frozenset({"healthz", "readyz"})


def _error_response(error: RegistryError) -> Response:
    headers = [("content-type", "application/json")]
    if isinstance(error, HTTPError):
        headers.extend(error.headers)
    return Response(status_of(error), headers, error_body(error))


def _internal_error() -> Response:
    body = b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}'
    return Response(500, [("content-type", "application/json")], body)


def _body_size(response: Response | FileResponse | StreamResponse) -> int:
    if isinstance(response, StreamResponse):
        return response.size
    return response.end - response.start if isinstance(response, FileResponse) else len(response.body)


def _declared_length(req: Request) -> int:
    value = req.header("content-length")
    return int(value) if value is not None and value.isdigit() else 0


def _user_of(req: Request) -> str | None:
    """Who made the request, once authenticated (the auth layer sets `req.principal`)."""
    principal = getattr(req, "principal", None)
    return None if principal is None else str(getattr(principal, "name", principal))


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
        render_metrics: Callable[[], Awaitable[bytes]],
        on_close: Callable[[], Awaitable[None]],
        background: Callable[[], Coroutine[Any, Any, None]] | None = None,
        *,
        on_start: Callable[[], Awaitable[None]] | None = None,
        access_log: AccessLog | None = None,
        log_probes: bool = False,
        tracer: RequestTracer | None = None,
        guard: Guard | None = None,
    ):
        self._context = context
        self._render_metrics = render_metrics
        self._on_close = on_close
        self._on_start = on_start
        self._background = [background] if background is not None else []
        self._tasks: list[asyncio.Task[None]] = []
        self._access_log = access_log
        self._unlogged = frozenset() if log_probes else _PROBES
        self._request_ids = RequestIds()
        self._tracer = tracer
        self._guard = guard
        self._monitor = Monitor(context.registry.operations.open_uploads)
        self._background.append(self._monitor.run)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._on_start is not None:
            loop.run_until_complete(self._on_start())
        self._tasks = [loop.create_task(work()) for work in self._background]
        if self._access_log is not None:
            # A SIGHUP to the main process respawns the workers (granian), which opens the file
            # anew; one sent to a worker makes it reopen the file in place.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, self._access_log.reopen)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        loop.run_until_complete(self._on_close())
        if self._access_log is not None:
            self._access_log.close()
        if self._tracer is not None:
            self._tracer.close()

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        started = time.perf_counter()
        path = scope.path
        headers = scope.headers
        request_id = self._request_ids.for_request(headers.get(REQUEST_ID_HEADER))
        req = Request(
            scope.method, path, scope.query_string, headers, protocol, client=scope.client, request_id=request_id
        )
        route_name = "unknown"
        tracer = self._tracer
        span = None if tracer is None else tracer.start(scope.method, path, headers)
        monitor = self._monitor
        monitor.in_flight += 1
        try:
            route_name, answer = self._resolve(req)
            if req.method not in _READ_METHODS and await self._context.registry.operations.read_only():
                raise HTTPError(405, ErrorCode.UNSUPPORTED, READ_ONLY_MESSAGE)
            response = await answer()
        except RegistryError as error:
            response = _error_response(error)
        except (ProtocolClosed, ProtocolError):
            # The request body broke off; if the client still listens, it learns so.
            log.info("request body of %s %s broke off", scope.method, path, extra={"request_id": request_id})
            response = _error_response(
                RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "the request body ended prematurely")
            )
        except Exception:
            log.exception("internal error answering %s %s", scope.method, path, extra={"request_id": request_id})
            response = _internal_error()
        monitor.in_flight -= 1
        if isinstance(response, StreamResponse):
            sent_headers = [_API_VERSION, (REQUEST_ID_HEADER, request_id), *response.headers]
            await relay(protocol, response.status, sent_headers, response.chunks)
        else:
            self._send(protocol, response, request_id)
        elapsed = time.perf_counter() - started
        metrics.observe_request(scope.method, route_name, response.status, elapsed)
        sent = _body_size(response)
        monitor.answered(route_name, 0 if req.method in _READ_METHODS else _declared_length(req), sent)
        if tracer is not None:
            tracer.finish(span, route_name, response.status, request_id)
        if self._access_log is not None and route_name not in self._unlogged:
            self._access_log.record(request_id, scope, response.status, sent, elapsed, user=_user_of(req))

    def _resolve(self, req: Request) -> tuple[str, Callable[[], Awaitable[Response | FileResponse | StreamResponse]]]:
        """The route's name (for metrics) and the call that answers the request."""
        if req.method in _READ_METHODS:
            if req.path == "/metrics":
                return "metrics", self._metrics_response
            if req.path == "/healthz":
                return "healthz", health.alive
            if req.path == "/readyz":
                return "readyz", functools.partial(health.ready, self._context)
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
        answer = functools.partial(handler, self._context, req, **params)
        if self._guard is None:  # auth off: not one call more
            return route.name, answer
        return route.name, self._guard.wrap(route.name, params, req, answer)

    async def _metrics_response(self) -> Response:
        return Response(200, [("content-type", CONTENT_TYPE_LATEST)], await self._render_metrics())

    @staticmethod
    def _send(protocol: Any, response: Response | FileResponse, request_id: str) -> None:
        headers = [_API_VERSION, (REQUEST_ID_HEADER, request_id), *response.headers]
        if isinstance(response, FileResponse):
            protocol.response_file_range(response.status, headers, response.path, response.start, response.end)
        elif response.body:
            protocol.response_bytes(response.status, headers, response.body)
        else:
            protocol.response_empty(response.status, headers)
