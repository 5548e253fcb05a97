"""File data written since the last sync, and how to take it back (the data half of tests/support/volatile_disk.py)."""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterator


class SavedRanges:
    """Durable bytes of one file saved before a change overwrote them: disjoint ranges, adjacent ones merged."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._chunks: list[bytearray] = []

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) not saved yet."""
        gaps = []
        i = bisect_right(self._starts, start) - 1
        pos = start
        if i >= 0:
            pos = max(pos, self._starts[i] + len(self._chunks[i]))
        i += 1
        while pos < end:
            if i < len(self._starts) and self._starts[i] <= pos:
                pos = max(pos, self._starts[i] + len(self._chunks[i]))
                i += 1
                continue
            gap_end = min(self._starts[i] if i < len(self._starts) else end, end)
            gaps.append((pos, gap_end))
            pos = gap_end
        return gaps

    def add(self, start: int, data: bytes) -> None:
        """Save `data` found at `start`, a range that overlaps nothing saved."""
        i = bisect_left(self._starts, start)
        if i > 0 and self._starts[i - 1] + len(self._chunks[i - 1]) == start:
            i -= 1
            self._chunks[i] += data
        else:
            self._starts.insert(i, start)
            self._chunks.insert(i, bytearray(data))
        if i + 1 < len(self._starts) and self._starts[i] + len(self._chunks[i]) == self._starts[i + 1]:
            self._starts.pop(i + 1)
            self._chunks[i] += self._chunks.pop(i + 1)

    def __iter__(self) -> Iterator[tuple[int, bytearray]]:
        return zip(self._starts, self._chunks, strict=True)

    def size(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)


class DirtyFile:
    """A file changed since its last sync: its durable size and the durable bytes changed since."""

    def __init__(self, fd: int, durable_size: int, label: str) -> None:
        # A descriptor of our own, readable and writable whatever the caller opened, that keeps the
        # inode reachable after its names are gone.
        self.fd = os.open(f"/proc/self/fd/{fd}", os.O_RDWR | os.O_CLOEXEC)
        self.durable_size = durable_size
        self.label = label  # the path it was first changed through, for reports
        self.saved = SavedRanges()
        self.unsynced_bytes = 0

    def preserve(self, start: int, end: int) -> None:
        """Save the durable bytes in [start, end) that are about to change, unless saved already."""
        for gap_start, gap_end in self.saved.gaps(start, min(end, self.durable_size)):
            self.saved.add(gap_start, os.pread(self.fd, gap_end - gap_start, gap_start))

    def restore(self) -> None:
        os.ftruncate(self.fd, self.durable_size)
        for start, chunk in self.saved:
            os.pwrite(self.fd, chunk, start)

    def close(self) -> None:
        os.close(self.fd)
