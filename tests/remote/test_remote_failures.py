"""How the client fails: Retry-After, the circuit breaker, stalls, resets, refused connections, the
connection limit. The remote is a scripted server on the test's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web
from bench.procs import free_port
from tests.remote.scripted import Scripted, error_response
from tests.remote.support import run
from tests.support.server import DockyardServer
from tests.system.test_tls import self_signed

from dockyard.core.digest import Digest
from dockyard.remote import RemoteClient, RemoteCounters, RemoteSettings, RemoteUnavailable

BLOB = Digest.of(b"some blob")
BLOB_BYTES = b"x" * 1000


async def api_ok(_: web.Request) -> web.StreamResponse:
    return web.json_response({})


async def until(condition: Callable[[], bool], deadline: float = 10.0) -> None:
    until = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < until, "the condition never came true"
        await asyncio.sleep(0.01)


async def until_dialled(server: Scripted, client: RemoteClient, deadline: float = 10.0) -> None:
    """Call check() until one call reaches the server (calls before that fail fast)."""
    before = server.count()
    until = time.monotonic() + deadline
    while server.count() == before:
        assert time.monotonic() < until, "the client never dialled again"
        try:
            await client.check()
        except RemoteUnavailable as error:
            if error.dialled:
                return
            await asyncio.sleep(0.02)


async def drain(client: RemoteClient, into: list[bytes]) -> None:
    """Stream BLOB into `into`, chunk by chunk, so what arrived before a failure can be checked."""
    async with client.get_blob("some/repo", BLOB) as stream:
        assert stream.size == len(BLOB_BYTES)
        async for chunk in stream.chunks:
            into.append(chunk)


def test_retry_after_seconds_stops_dialling_until_then() -> None:
    answers = iter([error_response(429, "TOOMANYREQUESTS", {"Retry-After": "1"})])

    async def handler(request: web.Request) -> web.StreamResponse:
        return next(answers, None) or await api_ok(request)

    async def scenario() -> None:
        counters = RemoteCounters()
        async with Scripted(handler) as server, RemoteClient(RemoteSettings(server.url), counters) as client:
            with pytest.raises(RemoteUnavailable) as limited:
                await client.check()
            assert (limited.value.status, limited.value.retry_after, limited.value.dialled) == (429, 1.0, True)
            assert limited.value.codes == ("TOOMANYREQUESTS",)
            for _ in range(5):
                with pytest.raises(RemoteUnavailable) as fast:
                    await client.check()
                assert fast.value.dialled is False
                assert 0 < (fast.value.retry_after or 0) <= 1.0
            assert server.count() == 1
            await until_dialled(server, client)
            assert server.count() == 2
            assert counters.short_circuits["retry-after"] >= 5

    run(scenario())


def test_retry_after_http_date() -> None:
    async def handler(_: web.Request) -> web.StreamResponse:
        return error_response(503, "UNAVAILABLE", {"Retry-After": formatdate(time.time() + 3, usegmt=True)})

    async def scenario() -> None:
        async with Scripted(handler) as server, RemoteClient(RemoteSettings(server.url)) as client:
            with pytest.raises(RemoteUnavailable) as unavailable:
                await client.check()
            assert unavailable.value.status == 503
            assert 1.0 <= (unavailable.value.retry_after or 0) <= 3.0
            with pytest.raises(RemoteUnavailable) as fast:
                await client.head_blob("some/repo", BLOB)
            assert fast.value.dialled is False
            assert server.count() == 1

    run(scenario())


def test_breaker_opens_then_lets_one_probe_through() -> None:
    healthy = asyncio.Event()
    probe_arrived = asyncio.Event()
    release_probe = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if not healthy.is_set():
            return error_response(503, "UNAVAILABLE")
        if not release_probe.is_set():
            probe_arrived.set()
            await release_probe.wait()
        return await api_ok(request)

    async def scenario() -> None:
        counters = RemoteCounters()
        async with Scripted(handler) as server:
            settings = RemoteSettings(server.url, breaker_failures=3, breaker_cooldown=0.3)
            async with RemoteClient(settings, counters) as client:
                for _ in range(3):
                    with pytest.raises(RemoteUnavailable) as failed:
                        await client.check()
                    assert failed.value.status == 503
                with pytest.raises(RemoteUnavailable) as fast:
                    await client.check()
                assert fast.value.dialled is False
                assert counters.breaker_openings == 1
                assert server.count() == 3
                # After the cooldown one probe goes through; it fails, so the breaker opens again.
                await until_dialled(server, client)
                assert server.count() == 4
                with pytest.raises(RemoteUnavailable) as reopened:
                    await client.check()
                assert reopened.value.dialled is False
                # The next probe succeeds; while it is in flight every other call fails fast.
                healthy.set()
                deadline = time.monotonic() + 10
                while True:
                    probe = asyncio.create_task(client.check())
                    arrived = asyncio.create_task(probe_arrived.wait())
                    await asyncio.wait([probe, arrived], return_when=asyncio.FIRST_COMPLETED)
                    if probe_arrived.is_set():
                        break
                    arrived.cancel()
                    assert probe.exception() is not None
                    assert time.monotonic() < deadline, "no probe was let through"
                    await asyncio.sleep(0.02)
                others = await asyncio.gather(*(client.check() for _ in range(10)), return_exceptions=True)
                assert all(isinstance(error, RemoteUnavailable) and not error.dialled for error in others)
                assert server.count() == 5
                release_probe.set()
                await probe
                await asyncio.gather(*(client.check() for _ in range(10)))
                assert server.count() == 15

    run(scenario())


def test_stalls_time_out() -> None:
    """A remote that stops sending, before the headers or in the middle of a body, is unavailable
    after `read_timeout`, not hung."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            await server.stall()
        response = web.StreamResponse(headers={"Content-Length": str(len(BLOB_BYTES))})
        await response.prepare(request)
        await response.write(BLOB_BYTES[:100])
        await server.stall()
        return response

    server = Scripted(handler)

    async def scenario() -> None:
        counters = RemoteCounters()
        settings = RemoteSettings(server.url, read_timeout=0.5, breaker_failures=10)
        async with server, RemoteClient(settings, counters) as client:
            with pytest.raises(RemoteUnavailable, match="timed out"):
                await client.head_blob("some/repo", BLOB)
            received: list[bytes] = []
            with pytest.raises(RemoteUnavailable, match="timed out"):
                await drain(client, received)
            assert b"".join(received) == BLOB_BYTES[:100]
            assert counters.received == 100

    run(scenario())


def test_reset_mid_body_and_refused_connections() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(BLOB_BYTES))})
        await response.prepare(request)
        await response.write(BLOB_BYTES[:300])
        assert request.transport is not None
        request.transport.abort()
        return response

    async def scenario() -> None:
        async with Scripted(handler) as server, RemoteClient(RemoteSettings(server.url)) as client:
            received: list[bytes] = []
            with pytest.raises(RemoteUnavailable, match="connection failed"):
                await drain(client, received)
            assert b"".join(received) == BLOB_BYTES[:300]
        async with RemoteClient(RemoteSettings(f"http://127.0.0.1:{free_port()}")) as nobody_home:
            with pytest.raises(RemoteUnavailable, match="cannot connect") as refused:
                await nobody_home.check()
            assert refused.value.status is None
            assert refused.value.dialled is True

    run(scenario())


def test_connection_limit() -> None:
    """No more than max_connections requests in flight; a call that waits too long for a slot fails."""

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.05)  # a slow remote, so that calls overlap
        return web.Response(headers={"Content-Length": "10"}) if request.method == "HEAD" else await api_ok(request)

    async def scenario() -> None:
        async with Scripted(slow) as server:
            async with RemoteClient(RemoteSettings(server.url, max_connections=3)) as client:
                sizes = await asyncio.gather(*(client.head_blob("some/repo", BLOB) for _ in range(12)))
            assert sizes == [10] * 12
            assert server.peak == 3

        release = asyncio.Event()

        async def held(request: web.Request) -> web.StreamResponse:
            await release.wait()
            return await api_ok(request)

        async with Scripted(held) as server:
            settings = RemoteSettings(server.url, max_connections=1, queue_timeout=0.2)
            async with RemoteClient(settings) as client:
                first = asyncio.create_task(client.check())
                await until(lambda: server.in_flight == 1)
                with pytest.raises(RemoteUnavailable, match="connections stayed busy") as busy:
                    await client.check()
                assert busy.value.dialled is False
                release.set()
                await first
            assert server.count() == 1

    run(scenario())


def test_tls_remote(tmp_path: Path) -> None:
    """A remote with a private CA: refused as untrusted until its CA is given (or verification is off)."""
    cert, key = self_signed(tmp_path)
    env = {"DOCKYARD_TLS_CERT": str(cert), "DOCKYARD_TLS_KEY": str(key)}
    server = DockyardServer(tmp_path / "data", env=env, tls_ca=cert).start()
    try:

        async def scenario() -> None:
            async with RemoteClient(RemoteSettings(server.url)) as client:
                with pytest.raises(RemoteUnavailable, match="certificate is not trusted"):
                    await client.check()
            async with RemoteClient(RemoteSettings(server.url, ca_file=cert)) as client:
                await client.check()
            async with RemoteClient(RemoteSettings(server.url, tls_verify=False)) as client:
                await client.check()

        run(scenario())
    finally:
        server.stop()
