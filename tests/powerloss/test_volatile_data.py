"""The data half of the model on its own (no mount): any mix of writes, truncates and syncs, then a cut,
whole or torn."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.volatile_data import PAGE, Tear
from tests.support.volatile_disk import VolatileDisk

SIZE = 64 << 10
writes = st.tuples(st.just("write"), st.integers(0, SIZE), st.binary(min_size=1, max_size=9000))
truncates = st.tuples(st.just("truncate"), st.integers(0, SIZE), st.just(b""))
syncs = st.tuples(st.just("fsync"), st.just(0), st.just(b""))


def apply(content: bytearray, op: str, offset: int, data: bytes) -> None:
    """What the change does to a file's bytes, on a plain bytearray."""
    if op == "write":
        content.extend(bytes(max(0, offset - len(content))))
        content[offset : offset + len(data)] = data
    elif op == "truncate":
        del content[offset:]
        content.extend(bytes(offset - len(content)))


@settings(max_examples=150, deadline=None)
@given(initial=st.binary(max_size=SIZE), ops=st.lists(st.one_of(writes, truncates, syncs), max_size=30))
def test_a_cut_restores_the_content_of_the_last_sync(initial: bytes, ops: list[tuple[str, int, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        (root / "f").write_bytes(initial)
        disk = VolatileDisk(root, Path(tmp, "attic"))
        live, durable = bytearray(initial), bytes(initial)
        fd = os.open(root / "f", os.O_WRONLY)  # write-only, as many writers open: the model reads by itself
        try:
            for op, offset, data in ops:
                if op == "write":
                    disk.write(fd, data, offset)
                elif op == "truncate":
                    disk.truncate(fd, offset)
                else:
                    disk.fsync(fd)
                    durable = bytes(live)
                apply(live, op, offset, data)
            assert (root / "f").read_bytes() == live
            dropped = disk.cut()
        finally:
            os.close(fd)
        assert (root / "f").read_bytes() == durable
        assert dropped["undo_errors"] == 0
        assert dropped["saved_bytes"] <= len(durable)  # each durable byte saved at most once


Op = tuple[str, int, bytes]


def run_history(root: Path, initial: bytes, ops: list[Op], tear: Tear) -> tuple[bytes, bytes, bytes]:
    """Apply `ops` through a fresh model, tear-cut it; (durable content, live content, what the cut left)."""
    (root / "f").write_bytes(initial)
    disk = VolatileDisk(root, root.parent / "attic")
    live, durable = bytearray(initial), bytes(initial)
    fd = os.open(root / "f", os.O_WRONLY)
    try:
        for op, offset, data in ops:
            if op == "write":
                disk.write(fd, data, offset)
            elif op == "truncate":
                disk.truncate(fd, offset)
            else:
                disk.fsync(fd)
                durable = bytes(live)
            apply(live, op, offset, data)
        assert disk.cut(tear)["undo_errors"] == 0
    finally:
        os.close(fd)
    return durable, bytes(live), (root / "f").read_bytes()


@settings(max_examples=150, deadline=None)
@given(
    initial=st.binary(max_size=SIZE),
    ops=st.lists(st.one_of(writes, truncates, syncs), max_size=30),
    seed=st.integers(0, 2**32),
    keep=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
)
def test_a_torn_cut_leaves_each_page_durable_new_or_a_hole(
    initial: bytes, ops: list[tuple[str, int, bytes]], seed: int, keep: float
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        durable, live, left = run_history(root, initial, ops, Tear(seed, keep))
        if keep == 0.0:
            assert left == durable  # nothing kept: the all-or-nothing cut
        elif keep == 1.0:
            assert left == live
        if len(live) >= len(durable):
            assert len(durable) <= len(left) <= len(live)
        else:
            assert len(left) in (len(live), len(durable))
        # Each page holds either its durable bytes (zeros past the durable end) or its new ones
        # (durable bytes past the new end, when a shrink was not kept).
        old = durable.ljust(len(left), b"\0")[: len(left)]
        new = live[: len(left)] + old[len(live) :]
        for start in range(0, len(left), PAGE):
            page = left[start : start + PAGE]
            assert page in (old[start : start + PAGE], new[start : start + PAGE]), f"page at {start}"
        # One seed, one history: one outcome.
        assert run_history(root, initial, ops, Tear(seed, keep))[2] == left


def test_a_torn_cut_can_keep_later_pages_of_an_append_and_lose_earlier_ones(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    appended = b"".join(bytes([n + 1]) * PAGE for n in range(64))
    ops = [("write", 0, b"durable"), ("fsync", 0, b""), ("write", 7, appended)]
    left = run_history(root, b"", ops, Tear(seed=1))[2]
    assert left.startswith(b"durable")
    pages = [left[start : start + PAGE] for start in range(PAGE, len(left), PAGE)]
    assert any(page.count(0) == len(page) for page in pages[:-1]), "no hole before the end"
    assert any(0 not in page for page in pages), "no page of the append kept"
