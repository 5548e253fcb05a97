"""Fixtures for GC tests: servers with fast review workers, and `dockyard gc` run as operators run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.server import DockyardServer

FAST_GC = {"DOCKYARD_GC__REVIEW_DELAY_SECONDS": "0.5", "DOCKYARD_GC__IDLE_SECONDS": "0.1"}


def run_gc(data_dir: Path, *flags: str, env: dict[str, str] | None = None) -> str:
    """`dockyard gc` against a data directory; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "dockyard", "gc", "--data-dir", str(data_dir), *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def stored_blobs(data_dir: Path) -> set[str]:
    root = data_dir / "blobs"
    if not root.is_dir():
        return set()
    return {f"{path.parent.parent.name}:{path.name}" for path in root.glob("*/*/*")}


@pytest.fixture
def gc_server(tmp_path: Path) -> Iterator[DockyardServer]:
    """A server whose workers review everything half a second after it happened."""
    server = DockyardServer(tmp_path / "data", env=FAST_GC).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def idle_server(tmp_path: Path) -> Iterator[DockyardServer]:
    """A server whose workers never find anything due: collection happens only by `dockyard gc`."""
    server = DockyardServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.kill()
