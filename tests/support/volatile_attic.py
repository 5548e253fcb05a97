"""The attic of the power-loss model (tests/support/volatile_disk.py): where unlinked and replaced files
and directories wait, on the backing filesystem, until a cut puts them back or the model lets them go."""

from __future__ import annotations

import errno
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from itertools import count
from pathlib import Path

DIR_HANDLE = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass
class Entry:
    """A directory entry addressed through a handle on its directory, valid wherever the directory moves."""

    ino: int
    fd: int
    name: str


class Attic:
    """A flat directory beside the backing root (on its filesystem, so links and renames reach it)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(exist_ok=True)
        self._path = path
        self.purge()
        self._fd = os.open(path, DIR_HANDLE)
        self._names = count()
        self._links: Counter[int] = Counter()

    def links(self, ino: int) -> int:
        """How many links to inode `ino` the attic holds."""
        return self._links.get(ino, 0)

    def purge(self) -> None:
        for name in os.listdir(self._path):
            _remove(self._path / name)
        self._links = Counter()

    def keep_link(self, parent: Entry, st: os.stat_result) -> str:
        """Hard-link the non-directory at `parent` into the attic, so that its inode can come back."""
        kept = str(next(self._names))
        os.link(parent.name, kept, src_dir_fd=parent.fd, dst_dir_fd=self._fd, follow_symlinks=False)
        self._links[st.st_ino] += 1
        return kept

    def keep_dir(self, dir_fd: int, name: str) -> str:
        """Move the directory `name` into the attic (a directory has one name, so it cannot be linked)."""
        kept = str(next(self._names))
        os.rename(name, kept, src_dir_fd=dir_fd, dst_dir_fd=self._fd)
        return kept

    def drop_dir(self, dir_fd: int, name: str) -> None:
        """Take a directory out of the tree (into the attic, whatever it holds)."""
        self.keep_dir(dir_fd, name)

    def restore_link(self, kept: str, dir_fd: int, name: str) -> None:
        os.link(kept, name, src_dir_fd=self._fd, dst_dir_fd=dir_fd, follow_symlinks=False)

    def restore_dir(self, kept: str, dir_fd: int, name: str) -> None:
        os.rename(kept, name, src_dir_fd=self._fd, dst_dir_fd=dir_fd)


def exists(entry: Entry) -> bool:
    try:
        os.stat(entry.name, dir_fd=entry.fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def require_empty_dir(entry: Entry) -> None:
    fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=entry.fd)
    try:
        with os.scandir(fd) as entries:
            if any(True for _ in entries):
                raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY))
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
