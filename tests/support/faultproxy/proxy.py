"""The fault proxy's listener: an asyncio loop of its own in a daemon thread, driven from the test's thread.

Running in a thread keeps the API plain Python (rules are objects, counts are read directly, no
control protocol) and leaves any event loop of the test's free; every call that touches the loop
waits a bounded time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Literal

from tests.support.faultproxy.relay import READ_SIZE, Relay, reset_connection
from tests.support.faultproxy.state import ProxyState

CALL_TIMEOUT_SECONDS = 10.0


class FaultProxy(ProxyState):
    """An HTTP/1.1 reverse proxy on 127.0.0.1 in front of `target`, injecting the faults of its rules."""

    def __init__(self, target: str, port: int = 0):
        super().__init__(target, asyncio.new_event_loop())
        self.port = port  # 0: a free one, chosen at start and kept through down() and up()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._refusing = False  # down("reset"): connections are accepted and reset at once
        self._relays: dict[asyncio.Task[None], Relay] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        """Close the listener and every connection, then end the loop thread; raise if it will not end."""
        if self._thread is None or self._loop.is_closed():
            return
        self._call(self._shutdown(), timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"fault proxy thread did not end within {timeout}s")
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- availability --------------------------------------------------------------------------------
    def down(self, how: Literal["refuse", "reset"] = "refuse") -> None:
        """Be unreachable: connections open now are reset, and new ones refused (the port is closed) or,
        with "reset", accepted and reset at once. Rules and counts stay."""
        self._call(self._go_down(how))

    def up(self) -> None:
        """Serve again on the same port."""
        self._call(self._go_up())

    # -- inside the loop -----------------------------------------------------------------------------
    def _call(self, coroutine: Coroutine[Any, Any, None], timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, limit=READ_SIZE)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            reset_connection(writer)
            return
        relay = Relay(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._relays[task] = relay
        try:
            await relay.serve()
        except asyncio.CancelledError:
            pass  # stopping; the relay closed its connections. Ending quietly: asyncio 3.11's stream callback
            # calls exception() on the finished task, which raises for a cancelled one
        finally:
            del self._relays[task]

    async def _go_down(self, how: Literal["refuse", "reset"]) -> None:
        if how == "refuse":
            self._close_listener()
        self._refusing = True
        for relay in list(self._relays.values()):
            relay.reset()

    async def _go_up(self) -> None:
        self._refusing = False
        if self._server is None:
            await self._listen()

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()  # stops listening at once; connections it made are not touched
            self._server = None

    async def _shutdown(self) -> None:
        self._close_listener()
        tasks = list(self._relays)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CALL_TIMEOUT_SECONDS / 2)
        await asyncio.sleep(0)  # one more turn: the aborted transports' closing callbacks run
