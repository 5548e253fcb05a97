"""Relaying a body from elsewhere (S3) to the client at the client's pace, through a FIFO.

granian's streamed responses (`response_stream`) queue whatever the application sends without
bound: relaying a 512 MiB blob to a client slower than S3 took 520 MB of memory here. Its file
responses, by contrast, are read by its Rust threads only as fast as the socket drains. So the
body goes into a named pipe that granian serves as a file: a full pipe blocks our writes, that
pauses the reads from S3, and memory stays at one pipe buffer plus one S3 read chunk.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import Any

from dockyard.telemetry.failures import log_failure

log = logging.getLogger("dockyard.http")

_PIPE_BYTES = 1 << 20  # fewer wake-ups than the default 64 KiB; Linux's default ceiling for users
_OPEN_TIMEOUT_SECONDS = 10.0
_directory: str | None = None


def _fifo_directory() -> str:
    global _directory  # noqa: PLW0603 - one private directory per process, made on first use
    if _directory is None:
        _directory = tempfile.mkdtemp(prefix="dockyard-relay-")
        atexit.register(shutil.rmtree, _directory, True)
    return _directory


async def relay(protocol: Any, status: int, headers: list[tuple[str, str]], chunks: AsyncIterator[bytes]) -> None:
    """Answer with `chunks` as the body; headers must carry its Content-Length.

    If the source fails midway the body ends short of Content-Length, so the client sees a
    broken transfer rather than a complete-looking wrong one.
    """
    path = os.path.join(_fifo_directory(), uuid.uuid4().hex)
    os.mkfifo(path, 0o600)
    try:
        protocol.response_file(status, headers, path)
        fd = await _open_writer(path)
    finally:
        os.unlink(path)  # both ends are open (or never will be): the name is not needed any more
    if fd is None:
        log.error("the server never opened the relay pipe of a %d response", status)
        return
    try:
        async for chunk in chunks:
            await _write_all(fd, chunk)
    except BrokenPipeError:
        pass  # the client went away
    except Exception as error:
        log_failure(log, "relaying a response body midway", error)
    finally:
        os.close(fd)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()  # hands the source's connection back at once, also when the client left


async def _open_writer(path: str) -> int | None:
    """The pipe's write end, once granian has opened the read end (before that, ENXIO)."""
    deadline = asyncio.get_running_loop().time() + _OPEN_TIMEOUT_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO or asyncio.get_running_loop().time() > deadline:
                return None
            await asyncio.sleep(0.001)
            continue
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        return fd


async def _write_all(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(fd, writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(fd)
