"""A TCP relay in front of PostgreSQL that loses the server's answer to a COMMIT: the transaction is
made, but the client only sees its connection break, the one case a client cannot tell from a
transaction that was not made.

    async with CommitReplyCutter(port) as relay:    # on the test's event loop
        relay.armed = 1                             # the next COMMIT's answer is lost
        ... connect to 127.0.0.1:relay.port ...

It reads PostgreSQL's wire protocol only as far as it must: the server's CommandComplete message
for COMMIT (`C`, length 11, "COMMIT\\0") is found in the byte stream, and the connection is reset
instead of it being passed on. The test cluster speaks without TLS on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib

COMMIT_COMPLETE = b"C\x00\x00\x00\x0bCOMMIT\x00"
READ_SIZE = 65536


class CommitReplyCutter:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.armed = 0  # how many COMMIT answers to lose
        self.cut = 0  # how many were lost
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CommitReplyCutter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        ends = (client_out, server_out)
        forward = asyncio.ensure_future(self._pump(client_in, server_out, ends, watch=False))
        backward = asyncio.ensure_future(self._pump(server_in, client_out, ends, watch=True))
        self._tasks.update((forward, backward))
        await asyncio.gather(forward, backward, return_exceptions=True)
        self._tasks.difference_update((forward, backward))
        for end in ends:
            end.transport.abort()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        ends: tuple[asyncio.StreamWriter, ...],
        *,
        watch: bool,
    ) -> None:
        tail = b""  # the end of what passed, so that a message split between reads is still found
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(READ_SIZE):
                if watch and self.armed and COMMIT_COMPLETE in tail + chunk:
                    self.armed -= 1
                    self.cut += 1
                    for end in ends:
                        end.transport.abort()  # a reset: the answer never reaches the client
                    return
                tail = (tail + chunk)[-len(COMMIT_COMPLETE) :]
                sink.write(chunk)
                await sink.drain()
        for end in ends:
            end.transport.abort()
