"""Start a real dockyard server process for tests, and observe it from outside."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from bench.procs import free_port, process_tree, status_kib
from tests.support.wait import poll


class DockyardServer:
    """A dockyard process on a free loopback port with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        tls_ca: Path | None = None,
    ):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.port}"
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls_ca)) if tls_ca else True
        self.extra_args = extra_args or []
        self.env = env or {}
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> DockyardServer:
        cmd = [
            sys.executable,
            "-m",
            "dockyard",
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, start_new_session=True
        )
        if poll(self._answers, timeout) is None:
            self.kill()
            raise RuntimeError(f"dockyard did not answer within {timeout}s:\n{self.log()}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"dockyard exited with {self.proc.returncode}:\n{self.log()}")
        try:
            # 401: up, with authentication on.
            return httpx.get(self.url + "/v2/", timeout=1.0, verify=self.verify).status_code in (200, 401)
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: the graceful path."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash at an arbitrary instant."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def unread_bytes(self) -> int:
        """Bytes sent to the server that it has not read yet, summed over its loopback connections:
        those still queued at the sending end (not acknowledged) and those waiting in its own
        receive queues (the kernel's view, from /proc/net/tcp*)."""
        unread = 0
        for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
            for line in table.read_text().splitlines()[1:] if table.exists() else []:
                _, local, remote, state, queues, *_ = line.split()
                if state != _ESTABLISHED:
                    continue
                sent_unacknowledged, received_unread = (int(queue, 16) for queue in queues.split(":"))
                if _port(local) == self.port:
                    unread += received_unread
                elif _port(remote) == self.port:
                    unread += sent_unacknowledged
        return unread

    def pids(self) -> list[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def peak_rss_kib(self) -> int:
        """Sum of VmHWM (peak resident set) over the server's process tree."""
        return sum(status_kib(pid, "VmHWM") for pid in self.pids())

    def rss_kib(self) -> int:
        return sum(status_kib(pid, "VmRSS") for pid in self.pids())

    def __enter__(self) -> DockyardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_ESTABLISHED = "01"


@contextmanager
def all_running(servers: list[DockyardServer]) -> Iterator[list[DockyardServer]]:
    """Start the servers in turn; at the end kill every one, those started before a failed start too."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.kill()


def _port(address: str) -> int:
    """The port of a /proc/net/tcp address (hex `ADDR:PORT`)."""
    return int(address.rsplit(":", 1)[1], 16)
