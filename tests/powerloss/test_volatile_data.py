"""The data half of the model on its own (no mount): any mix of writes, truncates and syncs, then a cut."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
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
