"""A tiny HTTP server whose answers each test scripts (429s, 503s, stalls, resets, redirects, odd
headers), run on the test's own event loop; it records what it was sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web
from bench.procs import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path_qs: str
    authorization: str | None


@dataclass
class Scripted:
    """`handler` answers every request; `host` is the name clients use in URLs (127.0.0.1, or
    localhost to stand for another host)."""

    handler: Handler
    host: str = "127.0.0.1"
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def count(self, method: str | None = None) -> int:
        return sum(method is None or seen.method == method for seen in self.seen)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.method, request.raw_path, request.headers.get("Authorization")))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self.handler(request)
        finally:
            self.in_flight -= 1

    async def stall(self) -> None:
        """Hang (a stalled upstream) until the server shuts down."""
        await self.stop.wait()

    async def __aenter__(self) -> Scripted:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        assert self._runner is not None
        await self._runner.cleanup()


def error_response(status: int, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errors": [{"code": code, "message": code.lower()}]}, status=status, headers=headers)
