"""Log lines from the event loop to standard error or a file, written by a thread of their own.

Handing a line over is one deque append: the event loop never formats through `logging`, never
takes a lock and never waits for the sink. The writer thread wakes every `interval` seconds, or
sooner once `flush_lines` lines wait, and writes everything pending in one `write`. When the sink
cannot keep up and `max_pending` lines wait, new lines are dropped and counted instead of
growing memory. Lines that cannot be written (a full disk) are dropped and counted too, with a
warning when that starts and when writing works again; a line a failed write cut short is ended
before the next, so no line is ever glued to another.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_STDERR = 2
log = logging.getLogger("dockyard")


def open_for_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def check_writable(path: Path) -> None:
    """Raise OSError unless lines can be appended to `path` (created if missing)."""
    os.close(open_for_append(path))


class LineWriter:
    def __init__(
        self,
        path: Path | None,
        on_dropped: Callable[[int], None],
        interval: float = 0.1,
        flush_lines: int = 256,
        max_pending: int = 32_768,
    ):
        self._path = path
        self._on_dropped = on_dropped
        self._interval = interval
        self._flush_lines = flush_lines
        self._max_pending = max_pending
        self._pending: collections.deque[str] = collections.deque()
        self.dropped = 0  # counted by the event loop only
        self._lost = 0  # lines a failed write lost, counted by the writer thread only
        self._failing = False  # the last write failed (writer thread only)
        self._torn = False  # the sink ends in the middle of a line (writer thread only)
        self._dropped_reported = 0
        self._wake = threading.Event()
        self._reopen = False
        self._stopping = False
        self._fd = self._open()
        self._thread = threading.Thread(target=self._run, name="dockyard-log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, line: str) -> None:
        """Queue one line (with its newline). Called on the event loop: it must stay this cheap."""
        pending = self._pending
        if len(pending) >= self._max_pending:
            self.dropped += 1
            return
        pending.append(line)
        if len(pending) == self._flush_lines:
            self._wake.set()

    def reopen(self) -> None:
        """Open the file again before the next write (after logrotate moved it); safe in a signal handler."""
        self._reopen = True
        self._wake.set()

    def close(self) -> None:
        """Write what is pending and stop the thread; idempotent."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=10)
        if self._fd != _STDERR:
            os.close(self._fd)

    def _open(self) -> int:
        if self._path is None:
            return _STDERR
        return open_for_append(self._path)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._reopen:
                self._reopen = False
                self._swap_file()
            self._flush()
        self._flush()

    def _swap_file(self) -> None:
        try:
            fd = self._open()
        except OSError as error:
            print(f"dockyard: cannot reopen access log {self._path}: {error}", file=sys.stderr)
            return
        old, self._fd = self._fd, fd
        if old != _STDERR:
            os.close(old)

    def _flush(self) -> None:
        pending = self._pending
        # popleft is atomic against the event loop's append; only this thread removes lines.
        lines = [pending.popleft() for _ in range(len(pending))]
        if lines:
            self._write_all("".join(lines).encode("utf-8", "backslashreplace"), len(lines))
        dropped = self.dropped + self._lost
        if dropped != self._dropped_reported:
            self._on_dropped(dropped - self._dropped_reported)
            self._dropped_reported = dropped

    def _write_all(self, data: bytes, lines: int) -> None:
        if self._torn:
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            # A full disk or a closed pipe must not kill the thread: the lines are lost and counted.
            self._lost += lines
            if not self._failing:
                log.warning("writing log lines failed (%s); they are dropped and counted until it works again", error)
            self._failing = True
        else:
            if self._failing:
                log.warning("writing log lines works again")
            self._failing = False
        written = len(data) - len(view)
        if written:
            self._torn = data[written - 1] != ord("\n")
