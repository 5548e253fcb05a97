"""One client connection of the fault proxy, relayed to upstream with h11 on both sides.

h11 parses and frames HTTP/1.1 (Content-Length, chunked, HEAD, 1xx, keep-alive) on each side, and
the relay passes on what it parsed: method, target, header names, values and order, and body bytes
are forwarded as received (chunked bodies are re-chunked: the chunk boundaries may differ, the bytes
do not), which keeps SigV4 signatures valid. Bodies move a read at a time with backpressure both ways,
so memory stays flat for any size. Each client connection has its own upstream connection, kept
alive while both sides allow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
import time

import h11
from tests.support.faultproxy.rules import PASS_THROUGH, CutBody, Exchange, Request, Reset, Respond, Rule, Stall
from tests.support.faultproxy.state import ProxyState, Target

READ_SIZE = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
CONNECT_TIMEOUT_SECONDS = 5.0
FLUSH_TIMEOUT_SECONDS = 5.0  # a reader that takes nothing for this long gets the reset without the bytes
UNREACHABLE = Respond(502, b"fault proxy: upstream unreachable\n", {"Content-Type": "text/plain"})

log = logging.getLogger(__name__)


class Dropped(Exception):
    """The exchange ended with the client connection reset on purpose."""


def _connection_ended(error: BaseException) -> bool:
    """Whether `error` is one of the ways a connection ends (anything else is a bug of the proxy's)."""
    if isinstance(error, BaseExceptionGroup):
        return all(_connection_ended(inner) for inner in error.exceptions)
    return isinstance(error, Dropped | OSError | h11.ProtocolError)


class Peer:
    """One side's stream and its h11 state machine."""

    def __init__(self, role: type[h11.CLIENT] | type[h11.SERVER], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):  # fmt: skip
        self.http = h11.Connection(role, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.reader = reader
        self.writer = writer

    async def next_event(self) -> h11.Event:
        while True:
            event = self.http.next_event()
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:  # the relay never reads past the end of a message
                raise RuntimeError("read past the end of a message")
            self.http.receive_data(await self.reader.read(READ_SIZE))

    async def send(self, event: h11.Event) -> None:
        data = self.http.send_with_data_passthrough(event)
        if data:
            self.writer.writelines(data)
            await self.writer.drain()

    def reusable(self) -> bool:
        """The exchange is complete on both sides and the connection may carry another one."""
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
            return True
        return False

    async def flush(self) -> None:
        """Wait until every byte written has left this socket (acknowledged by the peer's kernel)."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_SECONDS
        sock = self.writer.get_extra_info("socket")
        while time.monotonic() < deadline:
            buffered = self.writer.transport.get_write_buffer_size()
            if buffered == 0 and (sock is None or _unacknowledged_bytes(sock.fileno()) == 0):
                return
            await asyncio.sleep(0.002)

    def reset(self) -> None:
        reset_connection(self.writer)

    async def close(self) -> None:
        """Close after what was written has been sent (abort if the peer takes none of it for a while)."""
        self.writer.close()
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_SECONDS):
                await self.writer.wait_closed()
        except (OSError, TimeoutError):
            self.abort()

    def abort(self) -> None:
        self.writer.transport.abort()


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST rather than a FIN: SO_LINGER with a zero timeout, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _unacknowledged_bytes(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0])


class Relay:
    def __init__(self, state: ProxyState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.state = state
        self.client = Peer(h11.SERVER, reader, writer)
        self.upstream: Peer | None = None
        self.upstream_target: Target | None = None

    async def serve(self) -> None:
        """Relay exchanges until either side closes, a fault ends the connection, or the task is cancelled."""
        try:
            await self._relay_exchanges()
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as error:  # the connection is over, as a real server's would be
            if not _connection_ended(error):
                log.exception("fault proxy: relay failed")
            self.abort()
        else:
            self._drop_upstream()
            await self.client.close()

    async def _relay_exchanges(self) -> None:
        while True:
            event = await self.client.next_event()
            if not isinstance(event, h11.Request):
                return  # closed by the client between requests
            await self._exchange(event)
            if not self.client.reusable():
                return

    def abort(self) -> None:
        self.client.abort()
        self._drop_upstream()

    def reset(self) -> None:
        """End the client connection with a TCP RST (and the upstream one with it)."""
        self.client.reset()
        self._drop_upstream()

    def _drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None

    async def _exchange(self, head: h11.Request) -> None:
        request = Request.parse(head.method, head.target, list(head.headers.raw_items()))
        exchange, chosen = self.state.begin(request)
        rule = chosen or PASS_THROUGH
        fault = rule.fault
        if isinstance(fault, Respond):
            await self._respond(exchange, fault)
        elif isinstance(fault, Reset) and not fault.forward:
            self.reset()
            raise Dropped
        else:
            if isinstance(fault, Stall) and fault.point == "request":
                await rule.hold(fault.seconds)
            await self._forward(head, exchange, rule)

    async def _respond(self, exchange: Exchange, answer: Respond) -> None:
        """Answer locally. A client waiting for `100 Continue` gets the answer at once and the connection
        closes after it (the unsent body cannot be skipped); otherwise the body is read and dropped first."""
        if not self.client.http.they_are_waiting_for_100_continue:
            await self._drain_request_body()
        headers = [("Content-Length", str(len(answer.body))), *answer.headers.items()]
        self.state.answered(exchange, answer.status)
        await self.client.send(h11.Response(status_code=answer.status, headers=headers))
        if exchange.method != "HEAD" and answer.body:
            self.state.sending(exchange, len(answer.body))
            await self.client.send(h11.Data(data=answer.body))
        await self.client.send(h11.EndOfMessage())

    async def _drain_request_body(self) -> None:
        while not isinstance(await self.client.next_event(), h11.EndOfMessage):
            pass

    async def _connect(self) -> Peer:
        target = self.state.current_target()
        if self.upstream is not None and (self.upstream_target != target or self.upstream.reader.at_eof()):
            self._drop_upstream()  # retargeted, or closed by upstream while idle
        if self.upstream is None:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                reader, writer = await asyncio.open_connection(target.host, target.port, limit=READ_SIZE)
            self.upstream, self.upstream_target = Peer(h11.CLIENT, reader, writer), target
        return self.upstream

    async def _forward(self, head: h11.Request, exchange: Exchange, rule: Rule) -> None:
        try:
            upstream = await self._connect()
        except (OSError, TimeoutError):
            exchange.fault = "unreachable"
            await self._respond(exchange, UNREACHABLE)
            return
        # h11 sends only HTTP/1.1; everything else of the head goes on as it came.
        await upstream.send(h11.Request(method=head.method, target=head.target, headers=head.headers.raw_items()))
        async with asyncio.TaskGroup() as group:
            body = group.create_task(self._relay_request_body(upstream))
            await self._relay_response(upstream, exchange, rule)
            if not body.done():  # upstream answered before reading the whole body: neither connection is reusable
                body.cancel()
                self._drop_upstream()
        if self.upstream is not None and not self.upstream.reusable():
            self._drop_upstream()

    async def _relay_request_body(self, upstream: Peer) -> None:
        while True:
            event = await self.client.next_event()
            if not isinstance(event, h11.Data | h11.EndOfMessage):
                raise h11.RemoteProtocolError(f"request body interrupted by {event!r}")
            await upstream.send(event)
            if isinstance(event, h11.EndOfMessage):
                return

    async def _relay_response(self, upstream: Peer, exchange: Exchange, rule: Rule) -> None:
        fault = rule.fault
        response = await self._response_head(upstream)
        if isinstance(fault, Reset):  # forwarded: upstream acted, the client never hears of it
            self.reset()
            raise Dropped
        if isinstance(fault, Stall) and fault.point == "response":
            await rule.hold(fault.seconds)
        self.state.answered(exchange, response.status_code)
        await self.client.send(
            h11.Response(status_code=response.status_code, headers=response.headers.raw_items(), reason=response.reason)
        )
        cut = fault.after_bytes if isinstance(fault, CutBody | Stall) else None  # None for Stalls elsewhere
        while True:
            event = await upstream.next_event()
            if isinstance(event, h11.Data):
                data = event.data
                if cut is not None and exchange.body_bytes + len(data) >= cut:
                    before_cut, data = data[: cut - exchange.body_bytes], data[cut - exchange.body_bytes :]
                    await self._send_body(exchange, before_cut)
                    await self._at_cut(rule)
                    cut = None
                await self._send_body(exchange, data)
            elif isinstance(event, h11.EndOfMessage):
                if cut is not None:  # the body was shorter than the cut: it comes at its end
                    await self._at_cut(rule)
                await self.client.send(event)
                return
            else:
                raise h11.RemoteProtocolError(f"upstream response interrupted by {event!r}")

    async def _response_head(self, upstream: Peer) -> h11.Response:
        """Upstream's final response head; `100 Continue` and other interim answers go to the client."""
        while True:
            event = await upstream.next_event()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise h11.RemoteProtocolError(f"upstream closed before answering ({event!r})")
            await self.client.send(event)

    async def _send_body(self, exchange: Exchange, data: bytes) -> None:
        if data:
            self.state.sending(exchange, len(data))
            await self.client.send(h11.Data(data=data))

    async def _at_cut(self, rule: Rule) -> None:
        if isinstance(rule.fault, CutBody):
            await self.client.flush()  # the client gets exactly the bytes before the cut, then the reset
            self.reset()
            raise Dropped
        assert isinstance(rule.fault, Stall)
        await rule.hold(rule.fault.seconds)
