"""The power-loss filesystem: a FUSE mount over a backing directory that a power cut can be dropped on.

Run as its own process (tests/support/powercut.py starts it):
    python -m tests.support.powerfs BACKING_ROOT ATTIC MOUNTPOINT
What survives a cut is decided by tests/support/volatile_disk.py (its docstring states the model).

The process speaks JSON lines on stdin/stdout: it writes {"ready": true} once the kernel has mounted it,
then answers one line per command: {"cmd": "stats"}, {"cmd": "pending"} (what a cut would drop, by
name), {"cmd": "sync"} (make everything durable),
{"cmd": "cut"} (drop everything volatile, detach the mount, exit; with "tear": {"seed": N, "keep": P}
a random subset of unsynced pages is kept instead) and {"cmd": "unmount"} (keep everything,
detach, exit). The end of stdin unmounts too, so a test process that dies leaves no mount behind.
After a cut or an unmount every request still reaching the filesystem fails with EIO: a dead disk.

Binding: mfusepy, the maintained ctypes binding over libfuse's high-level (path) API, on libfuse 2. It
needs no compiler and no async runtime, and libfuse 2 forwards ftruncate's handle and refuses rename
flags it cannot honour (libfuse 3 through mfusepy drops both). Mount options: hard_remove with
nullpath_ok (an unlinked open file keeps working through its handle, with no .fuse_hidden renames that
would show up as changes of names), use_ino (the backing inode numbers, which SQLite keys its locks by),
kernel_cache (every change comes through this mount, so the page cache never goes stale; shared
writable mmap, which SQLite's -shm needs, works as direct_io stays off), attr_timeout=0 (link counts
change behind the kernel's back when the attic keeps a link), big_writes. Locks are left to
the kernel, which handles POSIX and flock locks on the mount locally.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import mfusepy
from tests.support.mounts import detach
from tests.support.volatile_data import Tear
from tests.support.volatile_disk import VolatileDisk

# The caller's open flags that the backing descriptor must not get: the kernel computes append
# offsets itself, the model handles truncation and syncs, and O_DIRECT would need aligned buffers.
_HANDLED_FLAGS = os.O_APPEND | os.O_TRUNC | os.O_CREAT | os.O_EXCL | os.O_DIRECT | os.O_SYNC | os.O_DSYNC
_STAT_FIELDS = ("st_mode", "st_ino", "st_uid", "st_gid", "st_size", "st_blocks", "st_blksize", "st_rdev")


class PowerFS(mfusepy.Operations):
    """FUSE operations: reads straight from the backing directory, every change through the model."""

    use_ns = True
    flag_nullpath_ok = True

    def __init__(self, disk: VolatileDisk, on_ready: Callable[[], None]) -> None:
        self.disk = disk
        self._on_ready = on_ready
        self._sync_handles: set[int] = set()

    def _real(self, path: str | None) -> Path:
        if path is None:
            raise FileNotFoundError(errno.ENOENT, "no path")
        return self.disk.root / path.lstrip("/")

    def init(self, path: str) -> None:
        self._on_ready()

    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, int]:
        st = os.fstat(fh) if fh is not None else os.lstat(self._real(path))
        attrs = {name: getattr(st, name) for name in _STAT_FIELDS}
        attrs["st_nlink"] = self.disk.visible_nlink(st)
        attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self.disk.root)
        keys = ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail")
        return {key: getattr(sv, key) for key in keys} | {"f_namemax": sv.f_namemax}

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode, follow_symlinks=False):
            raise PermissionError(13, "access denied")
        return 0

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    # -- files --------------------------------------------------------------------------------------

    def _opened(self, fd: int, flags: int) -> int:
        if flags & os.O_DSYNC:
            self._sync_handles.add(fd)
        if flags & os.O_TRUNC and os.fstat(fd).st_size:
            self.disk.truncate(fd, 0)
        return fd

    def open(self, path: str, flags: int) -> int:
        self.disk.check_alive()
        return self._opened(os.open(self._real(path), flags & ~_HANDLED_FLAGS | os.O_CLOEXEC), flags)

    def create(self, path: str, mode: int, flags: int) -> int:
        return self._opened(self.disk.create(path, flags & ~_HANDLED_FLAGS, mode), flags)

    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        self.disk.check_alive()
        return os.pread(fh, size, offset)

    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        written = self.disk.write(fh, data, offset, path)
        if fh in self._sync_handles:
            self.disk.fsync(fh)
        return written

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        if fh is not None:
            self.disk.truncate(fh, length, path)
            return 0
        fd = os.open(self._real(path), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            self.disk.truncate(fd, length, path)
        finally:
            os.close(fd)
        return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        self.disk.fsync(fh)
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        return 0

    def release(self, path: str | None, fh: int) -> int:
        self._sync_handles.discard(fh)
        os.close(fh)
        return 0

    def chmod(self, path: str | None, mode: int) -> int:
        self.disk.check_alive()
        os.chmod(self._real(path), mode, follow_symlinks=False)
        return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        self.disk.check_alive()
        os.chown(self._real(path), uid, gid, follow_symlinks=False)
        return 0

    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        self.disk.check_alive()
        if times is None:
            os.utime(self._real(path), follow_symlinks=False)
        else:
            os.utime(self._real(path), ns=times, follow_symlinks=False)
        return 0

    # -- directories and names ----------------------------------------------------------------------

    def opendir(self, path: str) -> int:
        return os.open(self._real(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def readdir(self, path: str | None, fh: int) -> list[tuple[str, dict[str, int], int]]:
        # With use_ino libfuse takes each entry's inode from here, and readdir(3) skips inode 0.
        with os.scandir(fh) as entries:
            listed = [(e.name, {"st_ino": e.inode(), "st_mode": _type_bits(e)}, 0) for e in entries]
        here = {"st_ino": os.fstat(fh).st_ino, "st_mode": stat.S_IFDIR}
        return [(".", here, 0), ("..", {"st_mode": stat.S_IFDIR}, 0), *listed]

    def releasedir(self, path: str | None, fh: int) -> int:
        os.close(fh)
        return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        self.disk.fsyncdir(fh)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        self.disk.mkdir(path, mode)
        return 0

    def mknod(self, path: str, mode: int, dev: int) -> int:
        self.disk.mknod(path, mode, dev)
        return 0

    def symlink(self, target: str, source: str) -> int:
        self.disk.symlink(target, source)  # the link at `target`, pointing to `source`
        return 0

    def link(self, target: str, source: str) -> int:
        self.disk.link(source, target)  # a new name `target` for the file at `source`
        return 0

    def unlink(self, path: str) -> int:
        self.disk.unlink(path)
        return 0

    def rmdir(self, path: str) -> int:
        self.disk.rmdir(path)
        return 0

    def rename(self, old: str, new: str) -> int:
        self.disk.rename(old, new)
        return 0


def _type_bits(entry: os.DirEntry[str]) -> int:
    return stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode)


class Control:
    """The command channel: JSON lines in on stdin, out on a private copy of stdout."""

    def __init__(self, disk: VolatileDisk, mountpoint: Path, out: IO[str]) -> None:
        self.disk = disk
        self.mountpoint = mountpoint
        self._out = out
        self._out_lock = threading.Lock()
        self.finishing = threading.Event()

    def send(self, message: dict[str, Any]) -> None:
        with self._out_lock:
            self._out.write(json.dumps(message) + "\n")
            self._out.flush()

    def ready(self) -> None:
        self.send({"ready": True, "pid": os.getpid()})

    def serve(self) -> None:
        for line in sys.stdin:
            message = json.loads(line)
            command = message["cmd"]
            if command == "stats":
                self.send({"ok": True, "stats": self.disk.stats()})
            elif command == "pending":
                self.send({"ok": True, "pending": self.disk.pending()})
            elif command == "sync":
                self.disk.sync_all()
                self.send({"ok": True})
            elif command == "cut":
                tear = Tear(**message["tear"]) if message.get("tear") else None
                self._finish({"ok": True, "dropped": self.disk.cut(tear)})
            elif command == "unmount":
                self.disk.sync_all(final=True)
                self._finish({"ok": True})
            else:
                self.send({"ok": False, "error": f"unknown command {command!r}"})
        self.disk.sync_all(final=True)
        self._finish(None)

    def _finish(self, reply: dict[str, Any] | None) -> None:
        """Detach the mount and end the process; requests still in the kernel then fail (the disk is gone)."""
        self.finishing.set()
        detach(self.mountpoint)
        if reply is not None:
            self.send(reply)
        os._exit(0)


def main(argv: list[str]) -> None:
    backing, attic, mountpoint = (Path(arg) for arg in argv)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else may write to the command channel
    os.umask(0)  # the kernel has applied the caller's umask to every mode we get
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    disk = VolatileDisk(backing, attic)
    control = Control(disk, mountpoint, out)
    threading.Thread(target=control.serve, name="control", daemon=True).start()
    options = {"hard_remove": True, "use_ino": True, "kernel_cache": True, "big_writes": True, "attr_timeout": 0}
    mfusepy.FUSE(PowerFS(disk, control.ready), str(mountpoint), foreground=True, fsname="powercut", **options)
    if control.finishing.is_set():
        threading.Event().wait()  # the control thread answers and ends the process
    # Unmounted from outside (umount, a signal): whatever the model held stays, as after a clean shutdown.
    disk.sync_all(final=True)


if __name__ == "__main__":
    main(sys.argv[1:])
