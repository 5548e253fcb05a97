"""What a power cut keeps: the durability model behind the power-loss filesystem (tests/support/powerfs.py).

Every change is applied to the backing directory at once (so reads, mmap and locks behave as on any
filesystem), and the model remembers how to take back whatever is not durable yet. A cut takes it back,
leaving the backing directory exactly as a disk that lost power would be found; a clean unmount keeps
everything. Everything present when the filesystem is mounted is durable.

File data (per inode, whichever name or descriptor reaches it):
- A write or a size change (write past the end, truncate, ftruncate, O_TRUNC) is volatile until an
  fsync or fdatasync of any descriptor of that file; on a cut the file returns to its content and size
  at its last sync. Only the durable bytes a change overwrites are saved (ranges merged per file), so
  appending costs nothing to keep and overwriting costs one copy of each durable byte, once per sync.
- A descriptor opened with O_SYNC or O_DSYNC makes each of its writes durable when it returns.
- fsync of a file says nothing about its names: a file whose data is synced but whose directory entry
  is not is gone after a cut. Data and names are independent: a rename (or a directory fsync) never
  makes data durable, so a file renamed before its data was synced comes back empty or old.
- A cut may tear files instead (tests/support/volatile_data.py: Tear): each page changed since the
  last sync keeps its new content or not, at random from a seed, and a file that grew may end after
  pages that were lost, which then read as zeros: a disk that wrote back some pages, not in order.
- sync(2) and syncfs(2) do not reach a FUSE filesystem and make nothing durable. Attributes (mode,
  owner, times, extended attributes) are not modelled: they keep their latest value.

Names (create, mkdir, mknod, symlink, link, unlink, rmdir, rename), as an ordered log of operations:
- An operation changes the entries of one directory. It becomes durable once that directory has been
  fsynced (opened and fsynced: fsyncdir) after it, and only after every earlier operation on that
  directory is durable: a directory's changes persist in the order they were made.
- A rename within one directory is one operation: after a cut the file is under its old name or its
  new one. A file renamed across directories is two: its new name (durable with the target directory)
  and the removal of its old name (durable with the source directory). With only the target synced it
  is under both names after a cut; with only the source synced it is under neither (so sync the target
  first, or both). A directory renamed across directories is one operation on both directories, durable
  when both are synced (a directory cannot have two names); the change of its `..` is part of it.
- On a cut the operations that are not durable are undone, newest first. A name is reachable after a
  cut only through durable entries from the root: a file created in a new directory whose own entry
  was never synced is gone with it, whatever was synced inside.
- This is stricter than ext4 or XFS, whose journal commits every earlier change with any fsync and
  makes a rename atomic, and as strict as POSIX allows: each outcome here is one that a conforming
  filesystem (ext2, say) may leave, and whatever a directory's fsync returned for is kept.

Unlinked and replaced objects are kept in an attic (a directory beside the backing root, on the same
filesystem) until a cut or unmount, so that undoing an unlink or a rename can bring them back; link
counts reported to callers leave the attic's links out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.volatile_attic import DIR_HANDLE, Attic, Entry, exists, require_empty_dir
from tests.support.volatile_data import DirtyFile, Tear


@dataclass
class _Operation:
    """One change of names, not durable yet: its directories (by inode), those not synced since, its undo."""

    what: str
    dirs: frozenset[int]
    unsynced: set[int]
    undo: Callable[[], None]


@dataclass
class _PinnedDir:
    fd: int
    refs: int = 0


@dataclass
class DiskStats:
    dirty_files: int = 0
    unsynced_bytes: int = 0
    saved_bytes: int = 0
    pending_ops: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {
            "dirty_files": self.dirty_files,
            "unsynced_bytes": self.unsynced_bytes,
            "saved_bytes": self.saved_bytes,
            "pending_ops": self.pending_ops,
            **self.counts,
        }


class PowerLost(OSError):
    def __init__(self) -> None:
        super().__init__(errno.EIO, "the power is cut")


class VolatileDisk:
    """The backing directory `root` with everything not durable remembered, to be dropped by `cut()`."""

    def __init__(self, root: Path, attic: Path) -> None:
        self.root = root
        self._attic = Attic(attic)
        self._lock = threading.Lock()
        self._dead = False
        self._files: dict[int, DirtyFile] = {}
        self._ops: list[_Operation] = []
        self._pinned: dict[int, _PinnedDir] = {}
        self._counts: Counter[str] = Counter()

    # -- state --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self, what: str) -> Iterator[None]:
        with self._lock:
            if self._dead:
                raise PowerLost
            self._counts[what] += 1
            yield

    def check_alive(self) -> None:
        if self._dead:
            raise PowerLost

    def stats(self) -> dict[str, int]:
        with self._lock:
            return self._stats().as_dict()

    def pending(self) -> dict[str, list[str]]:
        """What a cut would drop now: changes of names in order, and files with unsynced data."""
        with self._lock:
            return {"names": [op.what for op in self._ops], "files": sorted(f.label for f in self._files.values())}

    def _stats(self) -> DiskStats:
        return DiskStats(
            dirty_files=len(self._files),
            unsynced_bytes=sum(f.unsynced_bytes for f in self._files.values()),
            saved_bytes=sum(f.saved.size() for f in self._files.values()),
            pending_ops=len(self._ops),
            counts=Counter(self._counts),
        )

    def cut(self, tear: Tear | None = None) -> dict[str, int]:
        """Power cut: undo everything not durable; the disk is dead from now on. Returns what was dropped.

        With `tear`, unsynced file data is not lost whole: each changed page is kept or lost at random.
        """
        with self._lock:
            dropped = self._stats()
            self._dead = True
            errors = 0
            torn = Counter[str]()
            for dirty in self._files.values():
                try:
                    if tear is None:
                        dirty.restore()
                    else:
                        kept, lost = dirty.tear(tear)
                        torn.update(pages_kept=kept, pages_lost=lost)
                except OSError:
                    errors += 1
            for op in reversed(self._ops):
                try:
                    op.undo()
                except OSError:
                    errors += 1
            self._release_all()
            return {**dropped.as_dict(), **torn, "undo_errors": errors}

    def sync_all(self, *, final: bool = False) -> None:
        """Make everything durable, as a clean shutdown does; `final` also refuses all later changes."""
        with self._lock:
            if self._dead:
                return
            self._dead = final
            self._release_all()

    def _release_all(self) -> None:
        for dirty in self._files.values():
            dirty.close()
        self._files.clear()
        self._ops.clear()
        for pinned in self._pinned.values():
            os.close(pinned.fd)
        self._pinned.clear()
        self._attic.purge()

    def visible_nlink(self, st: os.stat_result) -> int:
        """The link count without the attic's links."""
        if stat.S_ISDIR(st.st_mode):
            return st.st_nlink
        return st.st_nlink - self._attic.links(st.st_ino)

    # -- data ---------------------------------------------------------------------------------------

    def _dirty(self, fd: int, path: str | None) -> DirtyFile:
        st = os.fstat(fd)
        dirty = self._files.get(st.st_ino)
        if dirty is None:
            dirty = self._files[st.st_ino] = DirtyFile(fd, st.st_size, path or f"inode {st.st_ino}")
        return dirty

    def write(self, fd: int, data: bytes, offset: int, path: str | None = None) -> int:
        with self._changing("writes"):
            dirty = self._dirty(fd, path)
            dirty.preserve(offset, offset + len(data))
            written = os.pwrite(fd, data, offset)
            dirty.unsynced_bytes += written
            return written

    def truncate(self, fd: int, length: int, path: str | None = None) -> None:
        with self._changing("truncates"):
            dirty = self._dirty(fd, path)
            dirty.preserve(length, dirty.durable_size)
            dirty.unsynced_bytes += abs(os.fstat(fd).st_size - length)
            os.ftruncate(fd, length)

    def fsync(self, fd: int) -> None:
        with self._changing("fsyncs"):
            dirty = self._files.pop(os.fstat(fd).st_ino, None)
            if dirty is not None:
                dirty.close()

    # -- names --------------------------------------------------------------------------------------

    def fsyncdir(self, fd: int) -> None:
        with self._changing("fsyncdirs"):
            ino = os.fstat(fd).st_ino
            for op in self._ops:
                op.unsynced.discard(ino)
            self._settle()

    def _settle(self) -> None:
        """Retire the operations that became durable: synced, and no earlier pending one on their directories."""
        blocked: set[int] = set()
        pending = []
        for op in self._ops:
            if op.unsynced or op.dirs & blocked:
                blocked |= op.dirs
                pending.append(op)
            else:
                self._unpin(op.dirs)
        self._ops = pending

    def _parent(self, path: str) -> Entry:
        parent, name = os.path.split(path.strip("/"))
        fd = os.open(self.root / parent, DIR_HANDLE)
        return Entry(os.fstat(fd).st_ino, fd, name)

    @contextlib.contextmanager
    def _parents(self, *paths: str) -> Iterator[list[Entry]]:
        parents = []
        try:
            for path in paths:
                parents.append(self._parent(path))
            yield parents
        finally:
            for parent in parents:
                os.close(parent.fd)

    def _record(self, what: str, parents: list[Entry], undo: Callable[[list[int]], None]) -> None:
        """Log an operation on `parents`; its undo receives handles on them that outlive this call."""
        fds = [self._pin(parent) for parent in parents]
        dirs = frozenset(parent.ino for parent in parents)
        self._ops.append(_Operation(what, dirs, set(dirs), lambda: undo(fds)))

    def _pin(self, parent: Entry) -> int:
        pinned = self._pinned.get(parent.ino)
        if pinned is None:
            pinned = self._pinned[parent.ino] = _PinnedDir(os.dup(parent.fd))
        pinned.refs += 1
        return pinned.fd

    def _unpin(self, dirs: frozenset[int]) -> None:
        for ino in dirs:
            pinned = self._pinned[ino]
            pinned.refs -= 1
            if not pinned.refs:
                os.close(pinned.fd)
                del self._pinned[ino]

    def create(self, path: str, flags: int, mode: int) -> int:
        """Create and open a new file; an existing one is opened instead (no change of names then)."""
        with self._changing("creates"), self._parents(path) as (parent,):
            try:
                fd = os.open(parent.name, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=parent.fd)
            except FileExistsError:
                if flags & os.O_EXCL:
                    raise
                return os.open(parent.name, flags | os.O_CLOEXEC, dir_fd=parent.fd)
            self._record(f"create {path}", [parent], lambda fds: os.unlink(parent.name, dir_fd=fds[0]))
            return fd

    def mkdir(self, path: str, mode: int) -> None:
        with self._changing("mkdirs"), self._parents(path) as (parent,):
            os.mkdir(parent.name, mode, dir_fd=parent.fd)
            self._record(f"mkdir {path}", [parent], lambda fds: self._attic.drop_dir(fds[0], parent.name))

    def mknod(self, path: str, mode: int, device: int) -> None:
        with self._changing("mknods"), self._parents(path) as (parent,):
            os.mknod(parent.name, mode, device, dir_fd=parent.fd)
            self._record(f"mknod {path}", [parent], lambda fds: os.unlink(parent.name, dir_fd=fds[0]))

    def symlink(self, path: str, target: str) -> None:
        with self._changing("symlinks"), self._parents(path) as (parent,):
            os.symlink(target, parent.name, dir_fd=parent.fd)
            self._record(f"symlink {path}", [parent], lambda fds: os.unlink(parent.name, dir_fd=fds[0]))

    def link(self, existing: str, path: str) -> None:
        with self._changing("links"), self._parents(existing, path) as (source, parent):
            os.link(source.name, parent.name, src_dir_fd=source.fd, dst_dir_fd=parent.fd, follow_symlinks=False)
            self._record(f"link {path}", [parent], lambda fds: os.unlink(parent.name, dir_fd=fds[0]))

    def unlink(self, path: str) -> None:
        with self._changing("unlinks"), self._parents(path) as (parent,):
            st = os.stat(parent.name, dir_fd=parent.fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            kept = self._attic.keep_link(parent, st)
            os.unlink(parent.name, dir_fd=parent.fd)
            self._record(f"unlink {path}", [parent], lambda fds: self._attic.restore_link(kept, fds[0], parent.name))

    def rmdir(self, path: str) -> None:
        with self._changing("rmdirs"), self._parents(path) as (parent,):
            require_empty_dir(parent)
            kept = self._attic.keep_dir(parent.fd, parent.name)
            self._record(f"rmdir {path}", [parent], lambda fds: self._attic.restore_dir(kept, fds[0], parent.name))

    def rename(self, old: str, new: str) -> None:
        with self._changing("renames"), self._parents(old, new) as (source, target):
            moved = os.stat(source.name, dir_fd=source.fd, follow_symlinks=False)
            try:
                replaced: os.stat_result | None = os.stat(target.name, dir_fd=target.fd, follow_symlinks=False)
            except FileNotFoundError:
                replaced = None
            if replaced is not None and (replaced.st_dev, replaced.st_ino) == (moved.st_dev, moved.st_ino):
                return  # two names of one file: rename does nothing
            restore_replaced = self._set_aside(target, moved, replaced)
            across = source.ino != target.ino and not stat.S_ISDIR(moved.st_mode)
            # A file moved across directories can come back under its old name on its own.
            kept = self._attic.keep_link(source, moved) if across else None
            try:
                os.rename(source.name, target.name, src_dir_fd=source.fd, dst_dir_fd=target.fd)
            except OSError:
                if restore_replaced is not None and not exists(target):
                    restore_replaced(target.fd)  # a directory set aside goes back; a kept link just stays kept
                raise

            def unname_target(target_fd: int) -> None:
                os.unlink(target.name, dir_fd=target_fd)
                if restore_replaced is not None:
                    restore_replaced(target_fd)

            if kept is not None:  # two changes, one per directory
                self._record(f"rename {old} -> {new} (new name)", [target], lambda fds: unname_target(fds[0]))
                self._record(
                    f"rename {old} -> {new} (old name gone)",
                    [source],
                    lambda fds: self._attic.restore_link(kept, fds[0], source.name),
                )
                return

            def undo(fds: list[int]) -> None:
                source_fd, target_fd = fds[0], fds[-1]
                os.rename(target.name, source.name, src_dir_fd=target_fd, dst_dir_fd=source_fd)
                if restore_replaced is not None:
                    restore_replaced(target_fd)

            self._record(f"rename {old} -> {new}", [source] if source.ino == target.ino else [source, target], undo)

    def _set_aside(
        self, target: Entry, moved: os.stat_result, replaced: os.stat_result | None
    ) -> Callable[[int], None] | None:
        """Keep what a rename is about to replace; returns how to put it back under the target's name."""
        if replaced is None:
            return None
        if not stat.S_ISDIR(replaced.st_mode):
            if stat.S_ISDIR(moved.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            kept = self._attic.keep_link(target, replaced)
            return lambda dir_fd: self._attic.restore_link(kept, dir_fd, target.name)
        if not stat.S_ISDIR(moved.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        require_empty_dir(target)
        kept = self._attic.keep_dir(target.fd, target.name)
        return lambda dir_fd: self._attic.restore_dir(kept, dir_fd, target.name)
