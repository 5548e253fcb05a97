"""A change token shared by every process that writes one SQLite database.

Writers replace the token after each commit; readers that find the token unchanged know the
database is as they last saw it and may answer from memory. A token is a random 64-bit value in
an 8-byte memory-mapped file: replacing it needs no lock, and a reader comparing it costs one
memory load instead of the read transaction that every SQLite query starts.
"""

from __future__ import annotations

import mmap
import os
import random
from pathlib import Path

_SIZE = 8


class Generation:
    def __init__(self, path: Path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < _SIZE:
                # Written, not truncated to size: a sparse page would be allocated by the first store
                # through the map, and on a full disk that store kills the process with SIGBUS.
                os.pwrite(fd, bytes(_SIZE), 0)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        # One aligned 8-byte word: stores and loads of it are never torn.
        self._word = memoryview(self._map).cast("Q")

    def current(self) -> int:
        return self._word[0]

    def advance(self) -> None:
        """Call after a commit, never before: a reader must not see the new token with old data."""
        self._word[0] = random.getrandbits(64)

    def close(self) -> None:
        self._word.release()
        self._map.close()
