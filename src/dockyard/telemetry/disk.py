"""Whether the filesystem under a local directory takes writes: mounted read-only, or out of room.

Readiness asks it of every store on a local disk, and the SQLite engine asks it to tell what an
I/O error of its own was. The mount flags do not always say it: ext4 that remounted itself
read-only after an error keeps them as they were, so a file is created and removed to find out.
Run it off the event loop: on a hung network filesystem it blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.core.errors import OutOfSpace, ReadOnlyStorage, store_fault

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
    _create_and_remove(directory / f".write-probe-{os.getpid()}")


def _create_and_remove(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.unlink(path)
    except OSError as error:
        fault = store_fault(error)
        if isinstance(fault, ReadOnlyStorage):
            raise ReadOnlyStorage(f"{path.parent} is on a read-only filesystem") from None
        if fault is not None:
            raise OutOfSpace(f"{path.parent} has no room: {error.strerror}") from None
        raise
