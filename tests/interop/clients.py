"""Client wrappers for the interoperability suite: each runs a real registry client with
private configuration and state, never the machine's own (/etc/containers, /var/lib/containers,
the system containerd)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.interop.harness import Result, TrafficMeter, run, spawn_daemon, wait_until_ready


@dataclass
class Target:
    """The registry under test as the clients address it."""

    url: str
    host: str  # host:port, as in image references
    dockyard: bool  # False when DOCKYARD_TEST_URL points elsewhere
    meter: TrafficMeter

    def ref(self, repo: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"


@dataclass
class ContainersConfig:
    """Private configuration for skopeo, podman and buildah, all in one temp dir."""

    root: Path
    registry_host: str
    insecure: bool = True  # plain HTTP, or TLS without verification, allowed for registry_host
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.root
        for sub in ("storage", "rr", "tmp", "state/containers/cache", "net", "home"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        (r / "auth.json").write_text(json.dumps({"auths": {}}))
        (r / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        (r / "registries.conf").write_text(
            "unqualified-search-registries = []\n"
            'short-name-mode = "disabled"\n\n'
            f'[[registry]]\nlocation = "{self.registry_host}"\ninsecure = {str(self.insecure).lower()}\n'
        )
        (r / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{r / "storage"}"\nrunroot = "{r / "rr"}"\n'
        )
        (r / "containers.conf").write_text(
            "[containers]\n"
            'log_driver = "k8s-file"\n'
            "[network]\n"
            'network_backend = "cni"\n'
            f'network_config_dir = "{r / "net"}"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{r / "events.log"}"\n'
            f'tmp_dir = "{r / "tmp"}"\n'
            f'image_copy_tmp_dir = "{r / "tmp"}"\n'
            f'static_dir = "{r / "storage" / "libpod"}"\n'
            f'volume_path = "{r / "storage" / "volumes"}"\n'
            'runtime = "crun"\n'
        )
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(r / "home"),
            "TMPDIR": str(r / "tmp"),
            "CONTAINERS_CONF": str(r / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(r / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(r / "registries.conf"),
            "REGISTRY_AUTH_FILE": str(r / "auth.json"),
            "XDG_RUNTIME_DIR": str(r / "rr"),
            "XDG_CONFIG_HOME": str(r / "home" / ".config"),
            "XDG_DATA_HOME": str(r / "home" / ".local" / "share"),
        }

    @property
    def policy(self) -> str:
        return str(self.root / "policy.json")

    def run(self, cmd: list[str], *, timeout: float, check: bool, stdin: str | None = None) -> Result:
        """Run a containers/image tool with this configuration.

        Running as root, these tools keep their blob info cache (which blob was seen in which
        repository: what makes them try cross-repository mounts) in /var/lib/containers/cache,
        and skopeo has no flag to move it. So each call runs in a private mount namespace in
        which /var/lib is this configuration's own state directory: the cache lives and dies
        with the test, and the machine's /var/lib is never written. /var/tmp, where podman build
        puts a scratch file whatever containers.conf says, is swapped for our tmp dir the same way.
        """
        if can_private_mount():
            cmd = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                'mount --bind "$0" /var/lib && mount --bind "$1" /var/tmp && shift && exec "$@"',
                str(self.root / "state"),
                str(self.root / "tmp"),
                *cmd,
            ]
        return run(cmd, timeout=timeout, env=self.env, check=check, stdin=stdin)

    def storage_flags(self) -> list[str]:
        return [
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "rr"),
            "--storage-driver",
            "vfs",
        ]


@functools.cache
def can_private_mount() -> bool:
    """Whether we may make a private mount namespace (root, and not forbidden by a sandbox)."""
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"],
            check=False,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class Skopeo:
    """skopeo with private policy, registries.conf and blob info cache (see ContainersConfig.run)."""

    def __init__(self, conf: ContainersConfig):
        self.conf = conf

    def __call__(self, *args: str, timeout: float = 120.0, check: bool = True) -> Result:
        cmd = ["skopeo", "--policy", self.conf.policy, "--tmpdir", str(self.conf.root / "tmp"), *args]
        return self.conf.run(cmd, timeout=timeout, check=check)


class StorageTool:
    """podman or buildah on vfs storage in the test's temp dir."""

    def __init__(self, name: str, conf: ContainersConfig):
        self.name = name
        self.conf = conf

    def __call__(self, *args: str, timeout: float = 120.0, check: bool = True, stdin: str | None = None) -> Result:
        cmd = [self.name, *self.conf.storage_flags()]
        if self.name == "podman":
            cmd += [
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--tmpdir",
                str(self.conf.root / "tmp"),
                "--runtime",
                "crun",
            ]
        return self.conf.run([*cmd, *args], timeout=timeout, check=check, stdin=stdin)


class Containerd:
    """A private containerd daemon (CRI plugin off) and the ctr client talking to it."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "c.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "containerd.log"

    def start(self, timeout: float = 30.0) -> Containerd:
        r = self.root
        config = r / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{r / "root"}"\n'
            f'state = "{r / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.socket}"\n'
            "[ttrpc]\n"
            f'  address = "{r / "t.sock"}"\n'
            "[debug]\n"
            '  address = ""\n'
            "[metrics]\n"
            '  address = ""\n'
            # The opt plugin would otherwise create /opt/containerd.
            '[plugins."io.containerd.internal.v1.opt"]\n'
            f'  path = "{r / "opt"}"\n'
        )
        self.proc = spawn_daemon(["containerd", "--config", str(config)], self.log_path)
        try:
            wait_until_ready(self.proc, self._answers, "containerd", self.log, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        return self.socket.exists() and self.ctr("version", check=False, quiet=True).returncode == 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def ctr(self, *args: str, timeout: float = 120.0, check: bool = True, quiet: bool = False) -> Result:
        cmd = ["ctr", "--address", str(self.socket), "--namespace", "dockyard-interop", *args]
        if quiet:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
            return Result(cmd, proc.returncode, proc.stdout, proc.stderr, 0.0)
        return run(cmd, timeout=timeout, check=check)

    def content_get(self, digest: str, dest: Path, timeout: float = 60.0) -> bytes:
        """A blob from containerd's content store (binary-safe, through a file)."""
        cmd = [
            "ctr",
            "--address",
            str(self.socket),
            "--namespace",
            "dockyard-interop",
            "content",
            "get",
            digest,
        ]
        with dest.open("wb") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, check=False, timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr.decode(errors='replace')}"
        return dest.read_bytes()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# Places where container tools keep machine-wide configuration and state. The suite must leave
# every one of them as it found it.
HOST_PATHS = (
    "/etc/containers",
    "/var/lib/containers",
    "/run/containers",
    "/run/libpod",
    "/etc/containerd",
    "/var/lib/containerd",
    "/run/containerd",
    "/opt/containerd",
    "/etc/cni",
    "/var/lib/cni",
    "/etc/docker",
    "/var/lib/docker",
    "/run/docker",
    "/run/docker.sock",
    "/run/docker.pid",
    "/var/run/docker.sock",
    str(Path.home() / ".docker"),
)

HostState = dict[str, tuple[tuple[str, int, int], ...] | None]


def host_state(limit: int = 5000) -> HostState:
    """Entries (path, mtime, size) under each of HOST_PATHS, or None where the path is absent."""
    state: HostState = {}
    for top in HOST_PATHS:
        root = Path(top)
        if not root.exists():
            state[top] = None
            continue
        entries: list[tuple[str, int, int]] = []
        for path in [root, *root.rglob("*")][:limit]:
            try:
                st = path.lstat()
            except OSError:
                continue
            entries.append((str(path), st.st_mtime_ns, st.st_size))
        state[top] = tuple(entries)
    return state
