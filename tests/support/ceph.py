"""A throwaway Ceph cluster with a RADOS Gateway on loopback: real S3 for the tests.

One monitor, one BlueStore OSD on a sparse file, no manager, no cephx between the daemons
(S3 requests are still SigV4-authenticated by the gateway), pools of size one. Everything
lives in one directory on a real filesystem (BlueStore needs O_DIRECT: no tmpfs). The monitor
port is fixed (6789) because Ceph advertises an address it never serves on other ports; so that
several test sessions can each run a cluster, every cluster claims a loopback address of its own
(127.0.N.1, held by a lock file for its lifetime) for its monitor and OSD. The gateway listens on
127.0.0.1. The daemons are stopped by the PIDs they wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench.procs import free_port
from tests.support.wait import poll

MON_PORT = 6789
OSD_PORTS = (6790, 6800)
DAEMONS = ("client.rgw.a", "osd.0", "mon.a")
POOLS = (
    ".rgw.root",
    "default.rgw.log",
    "default.rgw.control",
    "default.rgw.meta",
    "default.rgw.buckets.index",
    "default.rgw.buckets.data",
    "default.rgw.buckets.non-ec",
)
REQUIRED_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool", "ceph-authtool")


class CephStartError(RuntimeError):
    pass


def _claim_address() -> tuple[str, int]:
    """A loopback address whose monitor and OSD ports are free, and the open lock file that holds it."""
    for n in range(1, 64):
        address = f"127.0.{n}.1"
        lock = os.open(f"/tmp/dockyard-test-ceph-{address}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        if _port_free(address, MON_PORT):
            return address, lock
        os.close(lock)
    raise CephStartError("no free loopback address for a Ceph monitor (127.0.1.1 to 127.0.63.1 all taken)")


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def _config(data: Path, fsid: str, address: str, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon_host = {address}:{MON_PORT}
mon_initial_members = a
public_addr = {address}
cluster_addr = {address}
ms_bind_msgr2 = false
ms_bind_ipv6 = false
ms_bind_port_min = {OSD_PORTS[0]}
ms_bind_port_max = {OSD_PORTS[1]}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
run_dir = {data}/run
crash_dir = {data}/crash
admin_socket = {data}/run/$name.asok
log_file = {data}/log/$name.log
pid_file = {data}/run/$name.pid
keyring = {data}/keyring
log_to_stderr = false
err_to_stderr = false
[mon]
mon_data = {data}/mon.$id
mon_data_avail_warn = 1
mon_data_avail_crit = 1
mon_cluster_log_file = default={data}/log/ceph.$channel.log cluster={data}/log/ceph.log
# pool creation waits for each osdmap proposal: batch them every 0.1 s, not every second
paxos_propose_interval = 0.1
[osd]
osd_data = {data}/osd.$id
osd_objectstore = bluestore
bluestore_block_size = {20 << 30}
bluestore_block_create = true
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 939524096
[client.rgw.a]
# without tcp_nodelay small responses wait ~40 ms for the delayed ACK
rgw_frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw_data = {data}/rgw.a
rgw_enable_usage_log = false
# reclaim deleted objects' space after a minute, not two hours: a test session writes many GiB
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
"""


class CephGateway:
    """Start with `start()`, stop with `stop()`; `endpoint` says where S3 answers."""

    def __init__(self, data: Path, access_key: str = "dockyardtest", secret_key: str = "dockyardtestsecret"):
        self.data = data.resolve()
        self.conf = self.data / "ceph.conf"
        self.port = free_port()
        self.endpoint = S3Endpoint(f"http://127.0.0.1:{self.port}", access_key, secret_key)
        self.address = "127.0.0.1"
        self._address_lock: int | None = None

    def _run(self, *args: str, timeout: float = 60) -> str:
        try:
            done = subprocess.run(
                [*args], capture_output=True, text=True, timeout=timeout, check=False, env=self._env()
            )
        except subprocess.TimeoutExpired:
            raise CephStartError(
                f"{args[0]} {args[1] if len(args) > 1 else ''} timed out\n{self.log_tails()}"
            ) from None
        if done.returncode != 0:
            raise CephStartError(f"{' '.join(args[:3])} failed: {done.stderr.strip()[-800:]}\n{self.log_tails()}")
        return done.stdout

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CEPH_ARGS"}
        env["CEPH_CONF"] = str(self.conf)
        return env

    def _ceph(self, *args: str, timeout: float = 30) -> str:
        # Without cephx a client may send its command before it has the monmap and be refused
        # ('problem getting command descriptions', EPERM): tried again for a second (the commands
        # used here are idempotent), then once more to report the error.
        command = ("ceph", "-c", str(self.conf), *args)

        def attempt() -> tuple[str] | None:
            with contextlib.suppress(CephStartError):
                return (self._run(*command, timeout=timeout),)
            return None

        answered = poll(attempt, 1, interval=0.5)
        return answered[0] if answered else self._run(*command, timeout=timeout)

    def start(self, timeout: float = 180) -> CephGateway:
        missing = [name for name in REQUIRED_BINARIES if not _on_path(name)]
        if missing:
            raise CephStartError(f"missing {', '.join(missing)}: run .ci/install-ceph.sh")
        deadline = time.monotonic() + timeout
        self.address, self._address_lock = _claim_address()
        try:
            self._create_monitor()
            self._create_osd(deadline)
            for pool in POOLS:
                self._ceph("osd", "pool", "create", pool, "8", "8")
                self._ceph("osd", "pool", "application", "enable", pool, "rgw")
            self._start_gateway(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_monitor(self) -> None:
        for sub in ("run", "log", "mon.a", "osd.0", "rgw.a", "crash"):
            (self.data / sub).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(_config(self.data, fsid, self.address, self.port))
        keyring, monmap = str(self.data / "keyring"), str(self.data / "monmap")
        self._run("ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
        self._run("monmaptool", "--create", "--add", "a", f"{self.address}:{MON_PORT}", "--fsid", fsid, monmap)
        conf = str(self.conf)
        self._run("ceph-mon", "-c", conf, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring)
        self._run("ceph-mon", "-c", conf, "-i", "a")

    def _create_osd(self, deadline: float) -> None:
        osd_uuid = str(uuid.uuid4())
        osd_id = self._ceph("osd", "new", osd_uuid, timeout=60).strip()
        if osd_id != "0":
            raise CephStartError(f"unexpected OSD id {osd_id!r}")
        self._run("ceph-osd", "-c", str(self.conf), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid, timeout=120)
        # With cephx off, ceph-osd 16.2 may ask the monitor before it has the monmap, log
        # 'wrong fsid' and exit (about one start in three); started again it comes up.
        for attempt in range(2):
            if not self._alive("osd.0"):
                with contextlib.suppress(CephStartError):  # judged by whether it comes up
                    self._run("ceph-osd", "-c", str(self.conf), "-i", "0")
            settled = poll(
                lambda: self._osd_up() or not self._alive("osd.0"), min(deadline - time.monotonic(), 25), interval=0.3
            )
            if settled and self._alive("osd.0"):
                return
            if attempt == 0:
                self._signal("osd.0", signal.SIGKILL)
        raise CephStartError(f"osd.0 did not come up\n{self.log_tails()}")

    def _osd_up(self) -> bool:
        try:
            return any(line.startswith("osd.0 up") for line in self._ceph("osd", "dump", timeout=20).splitlines())
        except CephStartError:
            return False

    def _start_gateway(self, deadline: float) -> None:
        self._run("radosgw", "-c", str(self.conf), "-n", "client.rgw.a")
        if not poll(self._gateway_answers, deadline - time.monotonic(), interval=0.3):
            raise CephStartError(f"radosgw did not answer on port {self.port}\n{self.log_tails()}")
        self._run(
            "radosgw-admin", "-c", str(self.conf), "user", "create", "--uid=dockyard", "--display-name=dockyard",
            f"--access-key={self.endpoint.access_key}", f"--secret-key={self.endpoint.secret_key}",
        )  # fmt: skip

    def _gateway_answers(self) -> bool:
        if not self._alive("client.rgw.a"):
            raise CephStartError(f"radosgw exited\n{self.log_tails()}")
        try:
            return httpx.get(self.endpoint.url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def _pid(self, daemon: str) -> int | None:
        try:
            return int((self.data / "run" / f"{daemon}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _alive(self, daemon: str) -> bool:
        pid = self._pid(daemon)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _signal(self, daemon: str, signum: int) -> None:
        pid = self._pid(daemon)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def pids(self) -> list[int]:
        return [pid for daemon in DAEMONS if self._alive(daemon) and (pid := self._pid(daemon)) is not None]

    def stop(self) -> None:
        """SIGTERM each daemon this cluster started (by its PID file), SIGKILL after 10 s."""
        for daemon in DAEMONS:
            if not self._alive(daemon):
                continue
            self._signal(daemon, signal.SIGTERM)
            poll(lambda daemon=daemon: not self._alive(daemon), 10, interval=0.1)
            self._signal(daemon, signal.SIGKILL)
        if self._address_lock is not None:
            os.close(self._address_lock)  # the address is free for another cluster
            self._address_lock = None

    def log_tails(self, lines: int = 8) -> str:
        tails = []
        for log in sorted((self.data / "log").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"== {log.name}\n" + "\n".join(line[:300] for line in text))
        return "\n".join(tails)


def _on_path(name: str) -> bool:
    return any(os.access(Path(d) / name, os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep) if d)
