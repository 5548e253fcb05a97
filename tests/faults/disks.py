"""Small disks for fault tests: a tmpfs of a few MiB that a test fills up, frees and remounts
read-only, and an ext4 image that fails the way a disk with errors does.

    with SmallDisk(tmp_path / "disk", 32 << 20) as disk:
        disk.fill(leave=4 << 20)     # a file of the test's own takes all but 4 MiB
        ...                          # point dockyard's data directory under disk.path
        disk.free()                  # the room is back
        disk.read_only(True)         # refused while a process holds a file open for writing

    with FailingDisk(tmp_path / "ext4", 64 << 20) as disk:
        disk.fail()                  # ext4 reports an error and remounts itself read-only, open files or not

Mounting needs root, as the power-loss tests do; the mounts are always undone (lazily, so a process
still inside does not keep one busy).
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


class FailingDisk:
    """A loop-mounted ext4 image with errors=remount-ro: after fail() it refuses every write, as a
    disk does whose filesystem hit an error. Only unmounting ends that (the journal is aborted)."""

    def __init__(self, path: Path, size: int):
        self.path = path
        self.image = path.with_name(path.name + ".img")
        self.size = size

    def __enter__(self) -> FailingDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        with self.image.open("wb") as image:
            image.truncate(self.size)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], capture_output=True, timeout=60, check=True)
        _mount("-o", "loop,errors=remount-ro", self.image, self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if is_mounted(self.path):
            detach(self.path)  # the loop device is released once the last user is gone
        self.image.unlink(missing_ok=True)

    def fail(self) -> None:
        device = _source_of(self.path)
        Path(f"/sys/fs/ext4/{device.name}/trigger_fs_error").write_text("injected by a test\n")


def failing_disk_unavailable() -> str | None:
    """Why this machine cannot make a FailingDisk, or None when it can."""
    if os.geteuid() != 0:
        return "mounting a loop device needs root"
    if not Path("/dev/loop-control").exists():
        return "no loop devices on this machine"
    return None


def _source_of(mount_point: Path) -> Path:
    command = ["findmnt", "-n", "-o", "SOURCE", str(mount_point)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return Path(done.stdout.strip())


def _mount(*args: str | Path) -> None:
    done = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise OSError(f"mount {' '.join(map(str, args))}: {done.stderr.strip()}")
