"""The RSGI application granian serves.

Each request passes the same stages, in order: resolve (probe or route, handler, auth guard),
read-only check (writes only), answer, send, observe (metrics, tracing, access log). The stages are
plain calls on purpose: a manifest GET costs tens of microseconds in all, so the pipeline adds no
awaits and no objects of its own, and with auth off not one call more.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from granian.rsgi import HTTPProtocol, ProtocolClosed, ProtocolError, Scope
from prometheus_client import CONTENT_TYPE_LATEST

from dockyard.core.decimals import parse_decimal
from dockyard.core.errors import ErrorCode, RegistryError, store_fault
from dockyard.http import health
from dockyard.http.accesslog import REQUEST_ID_HEADER, AccessLog, RequestIds
from dockyard.http.auth import Guard
from dockyard.http.clients import ClientAddresses
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError, error_body, error_headers, fault_error, status_of
from dockyard.http.limits import RequestLimits, check_headers
from dockyard.http.messages import FileResponse, Request, Response, StreamResponse
from dockyard.http.monitor import Monitor
from dockyard.http.relay import relay
from dockyard.http.routes import API_ROUTES, Handler, Route, Router
from dockyard.http.tracing import RequestTracer
from dockyard.proxy import metrics as proxy_metrics
from dockyard.registry.operations import READ_ONLY_MESSAGE
from dockyard.telemetry.failures import quiet_connection_faults

log = logging.getLogger("dockyard.http")

AnyResponse = Response | FileResponse | StreamResponse
Answer = Callable[[], Awaitable[AnyResponse]]

_API_VERSION = ("docker-distribution-api-version", "registry/2.0")
_MAX_PATH = 4096
_READ_METHODS = frozenset({"GET", "HEAD"})
_PROBES = frozenset({"healthz", "readyz"})
_PULL_ROUTES = frozenset({"manifest", "blob", "tags", "referrers"})


class RegistryApp:
    """One instance per worker process."""

    def __init__(
        self,
        context: Context,
        render_metrics: Callable[[], Awaitable[bytes]],
        on_close: Callable[[], Awaitable[None]],
        background: Callable[[], Coroutine[Any, Any, None]] | None = None,
        *,
        routes: Iterable[Route] = (),
        on_start: Callable[[], Awaitable[None]] | None = None,
        access_log: AccessLog | None = None,
        log_probes: bool = False,
        tracer: RequestTracer | None = None,
        guard: Guard | None = None,
        limits: RequestLimits | None = None,
        clients: ClientAddresses | None = None,
    ):
        """`routes` are tried before the /v2/ API's (the web UI's come this way); `clients` decides
        the client's address when trusted proxies name it."""
        self._context = context
        self._router = Router((routes, API_ROUTES))
        self._render_metrics = render_metrics
        self._read_only = context.registry.operations.read_only
        self._on_close = on_close
        self._on_start = on_start
        self._background = [background] if background is not None else []
        self._tasks: list[asyncio.Task[None]] = []
        self._access_log = access_log
        self._unlogged = frozenset() if log_probes else _PROBES
        self._request_ids = RequestIds()
        self._tracer = tracer
        self._guard = guard
        self._cache = context.registry.cache
        self._limits = limits or RequestLimits()
        self._clients = clients if clients is not None and clients.behind_proxies else None
        self._monitor = Monitor(context.registry.operations.open_uploads)
        self._background.append(self._monitor.run)
        self._probes: dict[str, tuple[str, Answer, bool]] = {
            "/healthz": ("healthz", health.alive, False),
            "/readyz": ("readyz", functools.partial(health.ready, context), False),
        }
        if guard is None:
            self._probes["/metrics"] = ("metrics", self._metrics_response, False)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(quiet_connection_faults)
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
        self._monitor.publish()
        if self._access_log is not None:
            self._access_log.close()
        if self._tracer is not None:
            self._tracer.close()

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        started = time.perf_counter()
        headers = scope.headers
        request_id = self._request_ids.for_request(headers.get(REQUEST_ID_HEADER))
        client = scope.client
        if self._clients is not None:
            client = self._clients.client(client, headers.get("x-forwarded-for"))
        req = Request(
            scope.method,
            scope.path,
            scope.query_string,
            headers,
            protocol,
            client=client,
            request_id=request_id,
            limits=self._limits,
        )
        span = None if self._tracer is None else self._tracer.start(req.method, req.path, headers)
        self._monitor.in_flight += 1
        route = "unknown"
        try:
            check_headers(headers, self._limits)
            route, answer, writes = self._resolve(req)
            if writes and await self._read_only():
                raise HTTPError(405, ErrorCode.UNSUPPORTED, READ_ONLY_MESSAGE)
            response = await answer()
        except Exception as error:
            response = _failure(req, error)
            if scope.http_version == "1.1" and _declares_body(req):
                # The body may be left unread, and granian then closes the connection after the
                # answer without saying so: a client reusing it would see its next request fail.
                response.headers.append(("connection", "close"))
        self._monitor.in_flight -= 1
        sent_headers = [_API_VERSION, (REQUEST_ID_HEADER, request_id), *response.headers]
        if req.namespace is not None:
            sent_headers.append(("oci-namespace", req.namespace))
        if isinstance(response, StreamResponse):
            await relay(protocol, response.status, sent_headers, response.chunks)
        else:
            _send(protocol, response, sent_headers)
        self._observe(req, route, response, time.perf_counter() - started, span)

    def _resolve(self, req: Request) -> tuple[str, Answer, bool]:
        """The route's name (for metrics and logs), the call that answers the request (the handler,
        behind the auth guard unless the route is public), and whether it would change content."""
        if req.method in _READ_METHODS:
            probe = self._probes.get(req.path)
            if probe is not None:
                return probe
            if req.path == "/metrics" and self._guard is not None:  # the guard needs the request
                return "metrics", functools.partial(self._guard.metrics, req, self._metrics_response), False
        if len(req.path) > _MAX_PATH:
            raise HTTPError(414, ErrorCode.NAME_INVALID, "request path too long")
        route, params = self._router.find(req.path)
        handler = route.methods.get(req.method)
        if handler is None:
            allow = [("allow", ", ".join(route.methods))]
            raise HTTPError(405, ErrorCode.UNSUPPORTED, f"{req.method} is not supported here", allow)
        writes = route.changes_content and req.method not in _READ_METHODS
        if self._cache is not None and "name" in params:
            return route.name, functools.partial(self._via_cache, route, handler, req, params), writes
        answer = functools.partial(handler, self._context, req, **params)
        if self._guard is None or route.public:  # auth off: not one call more
            return route.name, answer, writes
        return route.name, self._guard.wrap(route.name, params, req, answer), writes

    async def _via_cache(self, route: Route, handler: Handler, req: Request, params: dict[str, str]) -> AnyResponse:
        """With a pull-through cache, a request is served under the repository name the cache picks
        (a cache repository for its prefixes, `?ns=` and the default upstream); authorization, logs,
        metrics and webhooks all see that name."""
        assert self._cache is not None
        if self._cache.route(params["name"]) is None:  # a cache repository's own name needs no choice
            pull = req.method in _READ_METHODS and route.name in _PULL_ROUTES
            namespace = req.query("ns") if pull and req.query_string else None
            local = await self._cache.local_name(
                params["name"], pull=pull, namespace=namespace, own_host=req.header("host")
            )
            req.namespace = local.namespace
            params = {**params, "name": local.name}  # a copy: the router hands out its cached dict
        answer: Answer = functools.partial(handler, self._context, req, **params)
        if self._guard is None or route.public:
            return await answer()
        return await self._guard.guarded(route.name, params, req, answer)

    async def _metrics_response(self) -> Response:
        self._monitor.publish()  # this process's tallies, up to this request
        return Response(200, [("content-type", CONTENT_TYPE_LATEST)], await self._render_metrics())

    def _observe(self, req: Request, route: str, response: AnyResponse, elapsed: float, span: Any) -> None:
        status, sent = response.status, _body_size(response)
        received = 0 if req.method in _READ_METHODS else _declared_length(req)
        self._monitor.answered(req.method, route, status, elapsed, received=received, sent=sent)
        if self._tracer is not None:
            self._tracer.finish(span, route, status, req.request_id)
        if req.cache is not None:
            proxy_metrics.TALLIES.sent(req.cache.upstream, sent)
        if self._access_log is not None and route not in self._unlogged:
            self._access_log.record(req, status, sent, elapsed)


def _failure(req: Request, error: Exception) -> Response:
    """The answer to a request that raised `error` (called while it is being handled)."""
    if isinstance(error, RegistryError):
        return _error_response(error)
    if isinstance(error, ProtocolClosed | ProtocolError):
        # The request body broke off; if the client still listens, it learns so.
        log.info("request body of %s %s broke off", req.method, req.path, extra={"request_id": req.request_id})
        return _error_response(RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "the request body ended prematurely"))
    fault = store_fault(error)
    if fault is not None:
        # Expected while a disk is full or a store is down: one line each, no traceback.
        log.warning(
            "%s %s failed: %s: %s",
            req.method,
            req.path,
            type(fault).__name__,
            fault,
            extra={"request_id": req.request_id},
        )
        return _error_response(fault_error(fault))
    log.exception("internal error answering %s %s", req.method, req.path, extra={"request_id": req.request_id})
    body = b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}'
    return Response(500, [("content-type", "application/json")], body)


def _error_response(error: RegistryError) -> Response:
    return Response(status_of(error), [("content-type", "application/json"), *error_headers(error)], error_body(error))


def _send(protocol: HTTPProtocol, response: Response | FileResponse, headers: list[tuple[str, str]]) -> None:
    if isinstance(response, FileResponse):
        protocol.response_file_range(response.status, headers, response.path, response.start, response.end)
    elif response.body:
        protocol.response_bytes(response.status, headers, response.body)
    else:
        protocol.response_empty(response.status, headers)


def _body_size(response: AnyResponse) -> int:
    if isinstance(response, StreamResponse):
        return response.size
    return response.end - response.start if isinstance(response, FileResponse) else len(response.body)


def _declares_body(req: Request) -> bool:
    return req.header("transfer-encoding") is not None or req.header("content-length") not in (None, "0")


def _declared_length(req: Request) -> int:
    value = req.header("content-length")
    return (parse_decimal(value) or 0) if value is not None else 0
