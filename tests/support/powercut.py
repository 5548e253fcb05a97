"""Power cuts for tests: a directory on the power-loss filesystem, and the switch.

    def test_x(powercut_dir):
        work = powercut_dir.path            # the mount: use it as any directory
        ...                                 # kill every process using it first (the power takes them too)
        dropped = powercut_dir.cut()        # everything not durable is gone; the mount is detached
                                            # (cut(tear_seed=N): unsynced pages kept or lost at random)
        powercut_dir.mount()                # the disk as found after the cut, everything on it durable

A cut ends the filesystem's process (tests/support/powerfs.py) after dropping the volatile state and
detaching the mount: the kernel's caches of the mount go with it, so nothing stale can be read back,
and a process that still used the mount gets errors, like one on a machine without power. Mounting
again shows the backing directory, which now holds exactly what was durable. The model of what is
durable is in tests/support/volatile_disk.py. Every call has a deadline, and the fixture always
unmounts (killing the filesystem's process if it does not answer).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.mounts import detach, is_mounted

_REPO = Path(__file__).resolve().parents[2]


class PowerCutError(RuntimeError):
    pass


class PowerCutDir:
    """A backing directory under `base`, mounted at `path` through the power-loss filesystem."""

    def __init__(self, base: Path) -> None:
        self.backing = base / "disk" / "root"
        self.attic = base / "disk" / "attic"
        self.path = base / "mnt"
        self.log_path = base / "powerfs.log"
        self.backing.mkdir(parents=True, exist_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending = b""

    @property
    def mounted(self) -> bool:
        return self._proc is not None

    def mount(self, timeout: float = 20.0) -> Path:
        if self._proc is not None:
            raise PowerCutError("already mounted")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")])),
            "FUSE_LIBRARY_NAME": "fuse",  # libfuse 2, whichever other versions are installed
        }
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.powerfs", str(self.backing), str(self.attic), str(self.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        self._pending = b""
        try:
            self._reply(timeout)  # {"ready": true}
        except PowerCutError:
            self._kill()
            raise
        if not is_mounted(self.path):
            self._kill()
            raise PowerCutError(f"{self.path} is not a mount point after the filesystem said ready")
        return self.path

    def stats(self, timeout: float = 10.0) -> dict[str, int]:
        """What is volatile now (dirty_files, unsynced_bytes, saved_bytes, pending_ops) and operation counts."""
        stats: dict[str, int] = self._command("stats", timeout)["stats"]
        return stats

    def pending(self, timeout: float = 10.0) -> dict[str, list[str]]:
        """What a cut would drop now: {"names": changes of names in order, "files": files with unsynced data}."""
        pending: dict[str, list[str]] = self._command("pending", timeout)["pending"]
        return pending

    def sync(self, timeout: float = 10.0) -> None:
        """Make everything durable now, as sync(1) on a real disk would (a baseline before the chaos)."""
        self._command("sync", timeout)

    def cut(self, timeout: float = 20.0, *, tear_seed: int | None = None, keep: float = 0.5) -> dict[str, int]:
        """Cut the power: drop everything volatile and detach the mount. Returns what was dropped.

        With `tear_seed`, files are torn rather than reverted whole: each page written since a file's
        last sync survives with probability `keep`, chosen from the seed (pages_kept, pages_lost).
        """
        tear = None if tear_seed is None else {"seed": tear_seed, "keep": keep}
        dropped: dict[str, int] = self._command("cut", timeout, tear=tear)["dropped"]
        self._wait_exit(timeout)
        if dropped["undo_errors"]:
            raise PowerCutError(f"the cut could not restore everything: {dropped}\n{self.log()}")
        return dropped

    def unmount(self, timeout: float = 20.0) -> None:
        """A clean shutdown: everything written is kept."""
        self._command("unmount", timeout)
        self._wait_exit(timeout)

    def close(self, timeout: float = 20.0) -> None:
        """Unmount whatever state things are in; never leaves a mount or a process behind."""
        if self._proc is not None:
            try:
                self.unmount(timeout)
            except (PowerCutError, OSError):
                self._kill()
        if is_mounted(self.path):
            detach(self.path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- the command channel ------------------------------------------------------------------------

    def _command(self, command: str, timeout: float, **arguments: Any) -> dict[str, Any]:
        if self._proc is None or self._proc.stdin is None:
            raise PowerCutError("not mounted")
        try:
            self._proc.stdin.write(json.dumps({"cmd": command, **arguments}).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise PowerCutError(f"the filesystem process is gone:\n{self.log()}") from exc
        reply = self._reply(timeout)
        if not reply.get("ok"):
            raise PowerCutError(f"{command}: {reply}")
        return reply

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PowerCutError(f"no answer from the filesystem within {timeout}s:\n{self.log()}")
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise PowerCutError(f"the filesystem process ended:\n{self.log()}")
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _wait_exit(self, timeout: float) -> None:
        assert self._proc is not None
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise PowerCutError(f"the filesystem process did not end within {timeout}s") from None
        self._forget()

    def _kill(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)
        self._forget()
        if is_mounted(self.path):
            detach(self.path)

    def _forget(self) -> None:
        assert self._proc is not None
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a pipe to a process that is gone
                    pipe.close()
        self._proc = None


def fuse_unavailable() -> str | None:
    """Why this machine cannot mount the filesystem, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if os.geteuid() != 0:
        return "mounting the power-loss filesystem needs root (it mounts without a fusermount helper)"
    return None


@pytest.fixture
def powercut_dir(tmp_path: Path) -> Iterator[PowerCutDir]:
    """A mounted power-loss directory, always unmounted at the end."""
    reason = fuse_unavailable()
    if reason:
        pytest.skip(reason)
    disk = PowerCutDir(tmp_path / "powercut")
    disk.mount()
    try:
        yield disk
    finally:
        disk.close()
