"""Durable changes to local files: whatever these calls create, replace, move or remove stays so
after a power cut once they return.

A file's bytes are durable after an fsync of the file, and its name only after an fsync of the
directory holding it: POSIX promises no more, and a journal that commits names sooner does not
order them after the data. So every state file is written in full under a temporary name,
synced, then given its name, and the directory synced; every new directory's entry is synced
into its parent. A file moved between directories is synced into its new directory before it
leaves the old one, so that a cut leaves it in one place at least.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, mode: int = 0o777) -> None:
    """Create `path` (with `mode`, less the umask) and whatever parents it lacks, each entry synced
    into its parent. The entry of a `path` found existing is synced too: another process may have
    created it and not synced it yet."""
    missing = []
    leaf = path
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process got there first: synced below
            directory.mkdir(mode if directory == leaf else 0o777)
        if not directory.is_dir():
            raise NotADirectoryError(f"{directory} is not a directory")
        fsync_dir(directory.parent)
    if not missing:
        with contextlib.suppress(PermissionError):  # a parent dockyard may not read was never its to create
            fsync_dir(path.parent)


def create_file(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Give `path` the content `data` unless it exists; whether this call created it. Of several
    callers at once the first wins and the others find its file complete: it appears whole."""
    temporary = _written(path, data, mode)
    try:
        os.link(temporary, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        os.unlink(temporary)
    fsync_dir(path.parent)
    return created


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Give `path` the content `data`: readers, and a cut, find the old content or the new, whole."""
    temporary = _written(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    fsync_dir(path.parent)


def move(source: Path, target: Path) -> None:
    """Rename `source` to `target` (replacing it); after a cut the file is at `target`."""
    os.rename(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def remove(path: Path) -> bool:
    """Unlink `path`, for good; False when it was not there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def _written(path: Path, data: bytes, mode: int) -> str:
    """A synced temporary file beside `path` holding `data`, readable as `mode` allows."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(descriptor, mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary
