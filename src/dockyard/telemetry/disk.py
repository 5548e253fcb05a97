"""Whether the filesystem under a local directory takes writes: mounted read-only, or out of room.

Readiness asks it of every store on a local disk, and the SQLite engine asks it to tell what an
I/O error of its own was. One statvfs call: cheap, but run it off the event loop, since a hung
network filesystem blocks it.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.core.errors import OutOfSpace, ReadOnlyStorage

MIN_FREE_BYTES = 1 << 20
"""Less room than this counts as full: a push of anything but the smallest blob would fail."""


def check_room(directory: Path) -> None:
    """Raise ReadOnlyStorage or OutOfSpace when writes under `directory` cannot succeed."""
    stats = os.statvfs(directory)
    if stats.f_flag & os.ST_RDONLY:
        raise ReadOnlyStorage(f"{directory} is on a read-only filesystem")
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        raise OutOfSpace(f"{directory} has {free} bytes free (less than {MIN_FREE_BYTES})")
    if stats.f_files and not stats.f_favail:  # f_files 0: a filesystem without an inode limit
        raise OutOfSpace(f"{directory} has no free inodes")
