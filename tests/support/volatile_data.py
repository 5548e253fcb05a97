"""File data written since the last sync, and how to take it back (the data half of tests/support/volatile_disk.py)."""

from __future__ import annotations

import os
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

PAGE = 4096  # the unit a torn write keeps or loses


@dataclass(frozen=True)
class Tear:
    """How a cut tears files: each page changed since a file's last sync keeps its new content with
    probability `keep` (seeded: one seed and one history give one outcome), else loses it."""

    seed: int
    keep: float = 0.5

    def rng(self, label: str) -> random.Random:
        return random.Random(f"{self.seed}/{label}")  # per file, whatever order files are torn in


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

    def tear(self, tear: Tear) -> tuple[int, int]:
        """Keep a random subset of the changed pages, as a disk that wrote back some of them would.

        A page not kept holds its durable bytes, or zeros past the durable size (a hole). A file
        that grew ends after its last kept page past the durable size, or at the durable size; one
        that shrank keeps its new size or its old one (whose bytes past the new end come back).
        Returns (pages kept, pages lost).
        """
        rng = tear.rng(self.label)
        live_size = os.fstat(self.fd).st_size
        changed = set()
        for start, chunk in self.saved:
            changed.update(range(start // PAGE, -(-(start + len(chunk)) // PAGE)))
        changed.update(range(self.durable_size // PAGE, -(-live_size // PAGE)))
        kept = {page for page in sorted(changed) if rng.random() < tear.keep}
        if live_size >= self.durable_size:
            grown = [page for page in kept if (page + 1) * PAGE > self.durable_size]
            size = min(live_size, (max(grown) + 1) * PAGE) if grown else self.durable_size
        else:
            size = live_size if rng.random() < tear.keep else self.durable_size
        os.ftruncate(self.fd, size)
        for start, chunk in self.saved:
            for page in range(start // PAGE, -(-(start + len(chunk)) // PAGE)):
                # Durable bytes return on a page not kept, and past the live end (a shrink not kept).
                low = max(start, page * PAGE) if page not in kept else max(start, page * PAGE, live_size)
                high = min(start + len(chunk), (page + 1) * PAGE, size)
                if low < high:
                    os.pwrite(self.fd, chunk[low - start : high - start], low)
        for page in sorted(changed - kept):
            low, high = max(page * PAGE, self.durable_size), min((page + 1) * PAGE, size)
            if low < high:
                os.pwrite(self.fd, bytes(high - low), low)
        return len(kept), len(changed) - len(kept)

    def close(self) -> None:
        os.close(self.fd)
