"""Mount points of this machine, seen and undone without going through the filesystem mounted there."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

_MNT_DETACH = 2


def is_mounted(path: Path) -> bool:
    """Whether `path` is a mount point, also when the filesystem there is dead (where stat fails)."""
    wanted = os.path.abspath(path).replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
    with open("/proc/self/mounts") as mounts:
        return any(line.split(" ")[1] == wanted for line in mounts)


def detach(path: Path) -> None:
    """Lazily unmount: new lookups stop at once, open files keep the old filesystem until closed."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot unmount {path}: {os.strerror(code)}")
