"""The power-loss filesystem itself: what a cut keeps and what it drops, through a real mount."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.powercut import PowerCutDir


def write_file(path: Path, data: bytes, *, fsync: bool, mode: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> None:
    fd = os.open(path, mode, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_file(disk: PowerCutDir, name: str, data: bytes) -> Path:
    """A file whose content and name are both durable."""
    path = disk.path / name
    write_file(path, data, fsync=True)
    fsync_dir(path.parent)
    return path


def cut_and_remount(disk: PowerCutDir) -> dict[str, int]:
    dropped = disk.cut()
    disk.mount()
    return dropped


def test_unsynced_write_is_lost(powercut_dir: PowerCutDir) -> None:
    path = durable_file(powercut_dir, "f", b"durable")
    write_file(path, b"volatile and longer", fsync=False)
    assert path.read_bytes() == b"volatile and longer"  # visible before the cut, as in a page cache
    assert powercut_dir.stats()["dirty_files"] == 1
    cut_and_remount(powercut_dir)
    assert path.read_bytes() == b"durable"


def test_fsynced_write_is_kept(powercut_dir: PowerCutDir) -> None:
    path = durable_file(powercut_dir, "f", b"first")
    write_file(path, b"second, synced", fsync=True)
    assert powercut_dir.stats()["dirty_files"] == 0
    cut_and_remount(powercut_dir)
    assert path.read_bytes() == b"second, synced"


def test_overwrites_inside_a_large_file_are_undone_exactly(powercut_dir: PowerCutDir) -> None:
    original = os.urandom(3 << 20)
    path = durable_file(powercut_dir, "big", original)
    with path.open("r+b") as f:
        for offset in (0, 4096, 8192, 1 << 20, (3 << 20) - 10):  # adjacent, scattered, across the end
            f.seek(offset)
            f.write(b"x" * 5000)
        f.truncate(2 << 20)
        f.truncate(4 << 20)
    stats = powercut_dir.stats()
    assert 5 * 5000 <= stats["saved_bytes"] <= (1 << 20) + 5 * 5000  # ranges saved, not the whole file
    cut_and_remount(powercut_dir)
    assert path.read_bytes() == original


def torn_append(disk: PowerCutDir, seed: int) -> tuple[bytes, dict[str, int]]:
    """A durable head, 64 pages appended without a sync, a torn cut: what the file holds after it."""
    path = durable_file(disk, "torn", b"head")
    with path.open("ab") as f:
        f.write(b"".join(bytes([n + 1]) * 4096 for n in range(64)))
    dropped = disk.cut(tear_seed=seed)
    disk.mount()
    return path.read_bytes(), dropped


def test_a_torn_cut_keeps_some_unsynced_pages_and_leaves_holes(powercut_dir: PowerCutDir) -> None:
    content, dropped = torn_append(powercut_dir, seed=20)
    assert content.startswith(b"head")
    assert dropped["pages_kept"] > 0
    assert dropped["pages_lost"] > 0
    pages = [content[start : start + 4096] for start in range(4096, len(content), 4096)]
    assert any(not page.strip(b"\0") for page in pages[:-1]), "no hole before the end"
    assert any(page and 0 not in page for page in pages), "no appended page kept"
    again, _ = torn_append(powercut_dir, seed=20)
    assert again == content  # one seed, one outcome


def test_o_sync_writes_are_durable(powercut_dir: PowerCutDir) -> None:
    path = durable_file(powercut_dir, "f", b"old")
    write_file(path, b"new", fsync=False, mode=os.O_WRONLY | os.O_TRUNC | os.O_SYNC)
    cut_and_remount(powercut_dir)
    assert path.read_bytes() == b"new"


@pytest.mark.parametrize("sync_dir", [False, True], ids=["no-dir-fsync", "dir-fsync"])
def test_rename_is_durable_once_its_directory_is_synced(powercut_dir: PowerCutDir, sync_dir: bool) -> None:
    old = durable_file(powercut_dir, "old", b"old")
    new = durable_file(powercut_dir, "tmp", b"new")
    new.rename(old)
    if sync_dir:
        fsync_dir(powercut_dir.path)
    cut_and_remount(powercut_dir)
    assert sorted(p.name for p in powercut_dir.path.iterdir()) == (["old"] if sync_dir else ["old", "tmp"])
    assert old.read_bytes() == (b"new" if sync_dir else b"old")


@pytest.mark.parametrize(
    ("synced", "names_after"),
    [((), {"src"}), (("dst",), {"src", "dst"}), (("src",), set()), (("dst", "src"), {"dst"})],
    ids=["none", "target", "source", "both"],
)
def test_a_file_renamed_across_directories_moves_per_directory(
    powercut_dir: PowerCutDir, synced: tuple[str, ...], names_after: set[str]
) -> None:
    for name in ("src", "dst"):
        (powercut_dir.path / name).mkdir()
    fsync_dir(powercut_dir.path)
    ino = durable_file(powercut_dir, "src/f", b"data").stat().st_ino
    (powercut_dir.path / "src/f").rename(powercut_dir.path / "dst/f")
    for name in synced:
        fsync_dir(powercut_dir.path / name)
    cut_and_remount(powercut_dir)
    assert {name for name in ("src", "dst") if (powercut_dir.path / name / "f").exists()} == names_after
    for name in names_after:
        assert (powercut_dir.path / name / "f").read_bytes() == b"data"
        assert (powercut_dir.path / name / "f").stat().st_ino == ino


def test_a_directory_renamed_across_directories_needs_both_synced(powercut_dir: PowerCutDir) -> None:
    for name in ("src", "dst", "src/d"):
        (powercut_dir.path / name).mkdir()
        fsync_dir((powercut_dir.path / name).parent)
    (powercut_dir.path / "src/d").rename(powercut_dir.path / "dst/d")
    fsync_dir(powercut_dir.path / "dst")  # the target's alone: never half moved
    cut_and_remount(powercut_dir)
    assert (powercut_dir.path / "src/d").is_dir()
    assert not (powercut_dir.path / "dst/d").exists()
    (powercut_dir.path / "src/d").rename(powercut_dir.path / "dst/d")
    fsync_dir(powercut_dir.path / "dst")
    fsync_dir(powercut_dir.path / "src")
    cut_and_remount(powercut_dir)
    assert (powercut_dir.path / "dst/d").is_dir()
    assert not (powercut_dir.path / "src/d").exists()


def test_new_file_synced_without_its_directory_entry_is_gone(powercut_dir: PowerCutDir) -> None:
    path = powercut_dir.path / "new"
    write_file(path, b"synced data, unsynced name", fsync=True)
    cut_and_remount(powercut_dir)
    assert not path.exists()


def test_new_entry_synced_without_its_data_is_empty(powercut_dir: PowerCutDir) -> None:
    path = powercut_dir.path / "new"
    write_file(path, b"unsynced data", fsync=False)
    fsync_dir(powercut_dir.path)
    cut_and_remount(powercut_dir)
    assert path.read_bytes() == b""


def test_unlink_and_rmdir_come_back_without_a_directory_fsync(powercut_dir: PowerCutDir) -> None:
    sub = powercut_dir.path / "sub"
    sub.mkdir()
    fsync_dir(powercut_dir.path)
    durable_file(powercut_dir, "sub/f", b"kept")
    link = powercut_dir.path / "link"
    os.link(sub / "f", link)
    fsync_dir(powercut_dir.path)
    (sub / "f").unlink()
    sub.rmdir()
    assert link.stat().st_nlink == 1  # the copy kept for a cut is not counted
    cut_and_remount(powercut_dir)
    assert (sub / "f").read_bytes() == b"kept"
    assert (sub / "f").stat().st_ino == link.stat().st_ino
    assert link.stat().st_nlink == 2


def test_a_new_directory_takes_what_was_synced_inside_it_along(powercut_dir: PowerCutDir) -> None:
    sub = powercut_dir.path / "sub"
    sub.mkdir()
    durable_file(powercut_dir, "sub/f", b"synced, and its entry too")
    cut_and_remount(powercut_dir)
    assert not sub.exists()


def test_stats_count_what_is_pending(powercut_dir: PowerCutDir) -> None:
    durable_file(powercut_dir, "a", b"")
    write_file(powercut_dir.path / "a", b"12345", fsync=False)
    (powercut_dir.path / "d").mkdir()
    stats = powercut_dir.stats()
    assert (stats["dirty_files"], stats["unsynced_bytes"], stats["pending_ops"]) == (1, 5, 1)
    powercut_dir.sync()
    assert powercut_dir.cut()["pending_ops"] == 0
    powercut_dir.mount()
    assert (powercut_dir.path / "a").read_bytes() == b"12345"
    assert (powercut_dir.path / "d").is_dir()


# A writer in its own process, as a server would be: it commits a base row, makes the database's own
# directory entry durable (SQLite syncs the directory for its journals, not for a new database file),
# then inserts a last row, committed or not, reports and waits to be killed.
SQLITE_WRITER = """
import os, sqlite3, sys
path, commit_last = sys.argv[1], sys.argv[2] == "commit"
db = sqlite3.connect(path, isolation_level=None)
assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE t (v TEXT)")
db.execute("INSERT INTO t VALUES ('base')")
fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(fd)
os.close(fd)
db.execute("BEGIN")
db.execute("INSERT INTO t VALUES ('last')")
db.execute("INSERT INTO t SELECT hex(randomblob(2000)) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3)")
if commit_last:
    db.execute("COMMIT")
print("written", flush=True)
sys.stdin.read()
"""


def rows(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [v for (v,) in db.execute("SELECT v FROM t WHERE length(v) < 10 ORDER BY rowid")]
    finally:
        db.close()


@pytest.mark.parametrize("commit", [True, False], ids=["committed", "uncommitted"])
def test_sqlite_wal_keeps_exactly_its_commits(powercut_dir: PowerCutDir, commit: bool) -> None:
    path = powercut_dir.path / "meta.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", SQLITE_WRITER, str(path), "commit" if commit else "open"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"written\n"
        expected = ["base", "last"] if commit else ["base"]
        assert rows(path) == expected  # another process reads it live: the -shm mmap works on the mount
        assert powercut_dir.stats()["dirty_files"] > 0  # the -shm, at least, is never synced
    finally:
        writer.kill()
        writer.communicate(timeout=10)
    cut_and_remount(powercut_dir)
    assert rows(path) == expected
