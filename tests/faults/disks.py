"""A small disk for fault tests: a tmpfs of a few MiB that a test fills up, frees and remounts read-only.

    with SmallDisk(tmp_path / "disk", 32 << 20) as disk:
        disk.fill(leave=4 << 20)     # a file of the test's own takes all but 4 MiB
        ...                          # point dockyard's data directory under disk.path
        disk.free()                  # the room is back
        disk.read_only(True)         # refused while a process holds a file open for writing

Mounting needs root, as the power-loss tests do; the mount is always undone (lazily, so a process
still inside does not keep it busy).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.mounts import detach, is_mounted

FILLER = "filler"


def mount_unavailable() -> str | None:
    """Why this machine cannot mount the small disk, or None when it can."""
    return None if os.geteuid() == 0 else "mounting a tmpfs needs root"


class SmallDisk:
    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size

    def __enter__(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        _mount("-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if is_mounted(self.path):
            detach(self.path)

    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave: int) -> None:
        """Take all the room but `leave` bytes (to the page) with a file of the test's own."""
        filler = self.path / FILLER
        with filler.open("ab") as file:
            os.posix_fallocate(file.fileno(), file.tell(), self.free_bytes() - leave)

    def free(self) -> None:
        (self.path / FILLER).unlink(missing_ok=True)

    def read_only(self, on: bool) -> None:
        _mount("-o", "remount,ro" if on else "remount,rw", self.path)


def _mount(*args: str | Path) -> None:
    done = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise OSError(f"mount {' '.join(map(str, args))}: {done.stderr.strip()}")
