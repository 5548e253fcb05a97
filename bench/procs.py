"""Start registry processes on loopback and observe them from /proc (CPU time, memory)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.http import Conn, HttpError

CLK_TCK = os.sysconf("SC_CLK_TCK")
DISTRIBUTION_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """The pid and all its live descendants."""
    children = _children_map()
    tree: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of the given processes, plus what their reaped children used (cutime+cstime)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the ")": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak_rss(pids: list[int]) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs). False where not permitted."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pid_listening_on(port: int) -> int | None:
    """The topmost local process that holds a listening socket on the port (None if not visible)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    holders: set[int] = set()
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    if os.readlink(fd) in wanted:
                        holders.add(int(entry.name))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    for pid in sorted(holders):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid not in holders:
            return pid
    return min(holders) if holders else None


@dataclass
class Registry:
    """A registry under test: a URL, and where we can see it, the root process of its server."""

    name: str
    url: str
    kind: str  # "dockyard", "distribution" or "external"
    workers: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    root_pid: int | None = None
    data_dir: Path | None = None
    log_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def pids(self) -> list[int]:
        if self.root_pid is None:
            return []
        return process_tree(self.root_pid)

    def cpu(self) -> float | None:
        pids = self.pids()
        return cpu_seconds(pids) if pids else None

    def rss_kib(self) -> int | None:
        pids = self.pids()
        return sum(status_kib(p, "VmRSS") for p in pids) if pids else None

    def peak_rss_kib(self) -> int | None:
        pids = self.pids()
        return sum(status_kib(p, "VmHWM") for p in pids) if pids else None

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def wait_ready(reg: Registry, timeout: float = 30.0) -> None:
    host, port = reg.host_port
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if reg.proc is not None and reg.proc.poll() is not None:
            raise RuntimeError(f"{reg.name} exited with {reg.proc.returncode}:\n{reg.log_tail()}")
        try:
            with Conn(host, port, timeout=2.0) as conn:
                resp = conn.request("GET", "/v2/")
                if resp.status in (200, 401):
                    return
                last = f"status {resp.status}"
        except (OSError, HttpError) as exc:
            last = str(exc)
        time.sleep(0.1)
    reg.stop()
    raise RuntimeError(f"{reg.name} did not answer /v2/ within {timeout}s ({last}):\n{reg.log_tail()}")


def distribution_config(root: Path, port: int, access_log: bool = False) -> str:
    return f"""version: 0.1
log:
  level: {"info" if access_log else "error"}
  accesslog:
    disabled: {"false" if access_log else "true"}
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: bench-only-secret
"""


def _spawn(
    name: str,
    kind: str,
    cmd: list[str],
    work: Path,
    port: int,
    *,
    env: dict[str, str] | None = None,
    workers: int | None = None,
    data_dir: Path | None = None,
) -> Registry:
    """Start a server process in a session of its own, its output in WORK/server.log."""
    log_path = work / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    return Registry(
        name=name,
        url=f"http://127.0.0.1:{port}",
        kind=kind,
        workers=workers,
        proc=proc,
        root_pid=proc.pid,
        data_dir=data_dir or work / "data",
        log_path=log_path,
    )


def start_distribution(name: str, work: Path, access_log: bool = False) -> Registry:
    if not Path(DISTRIBUTION_BIN).exists():
        raise RuntimeError(f"{DISTRIBUTION_BIN} missing: run bench/install.sh")
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data = work / "data"
    data.mkdir(exist_ok=True)
    config = work / "config.yml"
    config.write_text(distribution_config(data, port, access_log))
    reg = _spawn(name, "distribution", [DISTRIBUTION_BIN, "serve", str(config)], work, port)
    wait_ready(reg)
    return reg


def start_dockyard(
    name: str,
    work: Path,
    workers: int | None,
    access_log: bool = False,
    python: str | None = None,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
) -> Registry:
    """`data_dir`: where it keeps its data (default WORK/data)."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = data_dir or work / "data"
    cmd = [python or sys.executable, "-m", "dockyard", "serve", "--listen", f"127.0.0.1:{port}"]
    cmd += ["--data-dir", str(data_dir)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    full_env = {"DOCKYARD_ACCESS_LOG": "true" if access_log else "false", **(env or {})}
    if not access_log and "DOCKYARD_LOG_LEVEL" not in os.environ:
        full_env.setdefault("DOCKYARD_LOG_LEVEL", "warning")
    reg = _spawn(name, "dockyard", cmd, work, port, env=full_env, workers=workers or 1, data_dir=data_dir)
    wait_ready(reg, timeout=60.0)
    return reg


def _harness_path() -> dict[str, str]:
    """The environment that lets a floor server (or granian's worker importing its app) import `bench`."""
    paths = [str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH")]
    return {"PYTHONPATH": os.pathsep.join(filter(None, paths))}


def start_floor(work: Path, response: Path) -> tuple[Registry, Registry]:
    """The two floor servers (bench/floor.py): the manifest app on granian, and the raw receiver."""
    servers = []
    for server, option in (("manifest", ["--response", str(response)]), ("receiver", ["--dir", str(work / "uploads")])):
        where = work / server
        where.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cmd = [sys.executable, "-m", "bench.floor", server, "--listen", f"127.0.0.1:{port}", *option]
        reg = _spawn(f"floor-{server}", "floor", cmd, where, port, env=_harness_path(), workers=1)
        wait_ready(reg)
        servers.append(reg)
    return servers[0], servers[1]


def start_miss_floor(work: Path, upstream: Registry, prefix: str) -> Registry:
    """The floor of a cache miss (bench/miss_floor.py), passing blobs through from `upstream`."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host, upstream_port = upstream.host_port
    cmd = [sys.executable, "-m", "bench.miss_floor", "--listen", f"127.0.0.1:{port}"]
    cmd += ["--upstream", f"{host}:{upstream_port}", "--prefix", prefix, "--dir", str(work / "blobs")]
    reg = _spawn("miss-floor", "floor", cmd, work, port, env=_harness_path(), workers=1)
    wait_ready(reg)
    return reg


def attach_url(name: str, url: str) -> Registry:
    """An already running registry. Its server process is found through its listening socket."""
    reg = Registry(name=name, url=url.rstrip("/"), kind="external")
    host, port = reg.host_port
    if host in ("127.0.0.1", "localhost", "::1"):
        reg.root_pid = pid_listening_on(port)
    if reg.root_pid is None:
        reg.notes.append("server process not visible: no server CPU or RSS figures")
    wait_ready(reg)
    return reg


def tool_path(name: str) -> str | None:
    return shutil.which(name)


@dataclass
class ToolRun:
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float
    wall_s: float


def run_tool(cmd: list[str], timeout: float) -> ToolRun:
    """Run a load tool to completion and return its output with its own CPU time (from wait4)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ToolRun(
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_utime + usage.ru_stime,
            time.monotonic() - start,
        )
