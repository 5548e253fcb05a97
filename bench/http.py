"""A small blocking HTTP/1.1 client on raw sockets, with keep-alive.

It does only what the workloads need, and does it cheaply: large response bodies can be drained
into a reusable buffer (counted, not kept), large request bodies go out with one sendall from a
memoryview. The socket calls release the GIL, so a handful of threads drive it well.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from types import TracebackType

RECV = 1 << 20


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    nbytes: int = 0
    links: list[str] = field(default_factory=list)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class Conn:
    """One keep-alive connection. Reconnects by itself when the server closed it."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buf = bytearray()
        self._sink = bytearray(RECV)
        self.host_header = f"{host}:{port}"
        self.received = 0  # body bytes received over this object's life, updated as they arrive

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buf.clear()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buf.clear()
        return sock

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | bytearray | memoryview | None = None,
        sink: bool = False,
    ) -> Response:
        """Send one request and read its response. With sink=True the body is counted, not kept."""
        fresh = self.sock is None
        sock = self.sock or self._connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if body is not None and len(body) <= 65536:
                sock.sendall(head + bytes(body))
            else:
                sock.sendall(head)
                if body is not None:
                    sock.sendall(body)
            return self._read_response(method, sink)
        except (ConnectionError, HttpError) as exc:
            self.close()
            # a kept-alive connection the server closed meanwhile: retry once on a new one
            if not fresh and isinstance(exc, ConnectionError | _ClosedError):
                return self.request(method, path, headers, body, sink)
            raise

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(RECV)
        if not chunk:
            raise _ClosedError("connection closed by server")
        self._buf += chunk

    def _read_line_block(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                block = bytes(self._buf[:end])
                del self._buf[: end + 4]
                return block
            if len(self._buf) > 1 << 20:
                raise HttpError("response head too large")
            self._fill()

    def _read_response(self, method: str, sink: bool) -> Response:
        block = self._read_line_block()
        status_line, *header_lines = block.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HttpError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        links: list[str] = []
        for line in header_lines:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            value = value.strip()
            if key == "link":
                links.append(value)
            headers[key] = value
        resp = Response(status, headers, links=links)
        if status == 100:
            return self._read_response(method, sink)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            self._read_chunked(resp, sink)
        elif "content-length" in headers:
            self._read_exact(resp, int(headers["content-length"]), sink)
        else:
            self._read_to_close(resp, sink)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return resp

    def _read_exact(self, resp: Response, length: int, sink: bool) -> None:
        taken = min(length, len(self._buf))
        kept = [bytes(self._buf[:taken])] if not sink else []
        del self._buf[:taken]
        remaining = length - taken
        self.received += taken
        assert self.sock is not None
        if sink:
            view = memoryview(self._sink)
            while remaining:
                n = self.sock.recv_into(view, min(remaining, RECV))
                if not n:
                    raise _ClosedError("connection closed mid-body")
                remaining -= n
                self.received += n
        else:
            while remaining:
                chunk = self.sock.recv(min(remaining, RECV))
                if not chunk:
                    raise _ClosedError("connection closed mid-body")
                kept.append(chunk)
                remaining -= len(chunk)
                self.received += len(chunk)
        resp.nbytes = length
        if not sink:
            resp.body = b"".join(kept)

    def _read_chunked(self, resp: Response, sink: bool) -> None:
        kept: list[bytes] = []
        total = 0
        while True:
            while b"\r\n" not in self._buf:
                self._fill()
            end = self._buf.find(b"\r\n")
            size = int(bytes(self._buf[:end]).split(b";")[0], 16)
            del self._buf[: end + 2]
            if size == 0:
                # trailers end with an empty line
                while True:
                    while b"\r\n" not in self._buf:
                        self._fill()
                    end = self._buf.find(b"\r\n")
                    del self._buf[: end + 2]
                    if end == 0:
                        break
                break
            while len(self._buf) < size + 2:
                self._fill()
            if not sink:
                kept.append(bytes(self._buf[:size]))
            del self._buf[: size + 2]
            total += size
        resp.nbytes = total
        resp.body = b"".join(kept)

    def _read_to_close(self, resp: Response, sink: bool) -> None:
        kept = [bytes(self._buf)]
        total = len(self._buf)
        self._buf.clear()
        assert self.sock is not None
        while True:
            chunk = self.sock.recv(RECV)
            if not chunk:
                break
            total += len(chunk)
            if not sink:
                kept.append(chunk)
        self.close()
        resp.nbytes = total
        resp.body = b"".join(kept) if not sink else b""


class _ClosedError(HttpError, ConnectionError):
    pass
