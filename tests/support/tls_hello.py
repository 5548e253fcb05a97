"""What a server sends back to a TLS ClientHello: how a plain-HTTP port turns away the clients
that try HTTPS first."""

from __future__ import annotations

import contextlib
import socket
import ssl


def client_hello(server_name: str) -> bytes:
    """The first flight of a real TLS handshake (Python's own client's)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    handshake = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        handshake.do_handshake()
    return outgoing.read()


def answer_to_tls_hello(host: str, port: int, timeout: float = 10.0) -> bytes:
    """All the server sends back to a ClientHello before it closes the connection. A server that
    waits for more instead fails the test when `timeout` runs out."""
    answer = b""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(client_hello(host))
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except ConnectionResetError:  # a reset after the answer: what arrived stands
            pass
        except TimeoutError:
            raise AssertionError(f"no answer to a TLS ClientHello within {timeout}s: {answer[:100]!r}") from None
    return answer
