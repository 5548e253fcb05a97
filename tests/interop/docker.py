"""A private Docker engine for the interoperability suite, and the docker CLI talking to it.

dockerd runs with every path of its own in a temp dir: --data-root, --exec-root, --pidfile, its
API socket, its daemon.json (which moves the trust key out of /etc/docker) and a containerd of
its own (tests/interop/clients.Containerd), so it never needs or sees the machine's containerd.
The one path dockerd 20.10 hard-codes, /run/docker/plugins, is kept off the machine by running
the daemon in a private mount namespace with a fresh tmpfs on /run. Networking is off
(--bridge=none, no iptables, no forwarding): the suite only pushes and pulls.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import tarfile
import uuid
from pathlib import Path

import httpx
from tests.interop.auth import Credentials
from tests.interop.clients import Containerd
from tests.interop.harness import (
    DOCKER_MANIFEST,
    MANIFEST_ACCEPT,
    Result,
    run,
    sha256_digest,
    spawn_daemon,
    tar_bytes,
    untar,
    wait_until_ready,
)

PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)")


class DockerDaemon:
    """dockerd with private state, stopped by PID."""

    def __init__(self, root: Path, settings: dict[str, object] | None = None):
        """`settings`: more keys of daemon.json (`registry-mirrors`)."""
        self.root = root
        self.settings = settings or {}
        self.socket = root / "docker.sock"
        self.pidfile = root / "dockerd.pid"
        self.log_path = root / "dockerd.log"
        self.containerd = Containerd(root / "ctrd")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> DockerDaemon:
        (self.root / "ctrd").mkdir(parents=True, exist_ok=True)
        self.containerd.start()
        config = self.root / "daemon.json"
        # Without this, dockerd 20.10 writes its libtrust key to /etc/docker/key.json.
        config.write_text(json.dumps({"deprecated-key-path": str(self.root / "key.json"), **self.settings}))
        cmd = [
            "dockerd",
            "--config-file", str(config),
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.pidfile),
            "-H", f"unix://{self.socket}",
            "--containerd", str(self.containerd.socket),
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--ip-forward=false",
            "--ip-masq=false",
            "--userland-proxy=false",
        ]  # fmt: skip
        # unshare and sh exec in place: the process we start is dockerd itself, same PID.
        private_run = ["sh", "-c", 'mount -t tmpfs -o mode=0755 dockyard-run /run && exec "$@"', "dockerd-launch"]
        self.proc = spawn_daemon(
            ["unshare", "--mount", "--propagation", "private", "--", *private_run, *cmd], self.log_path
        )
        try:
            wait_until_ready(self.proc, self._answers, "dockerd", self.log, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        return self.socket.exists() and self.client(self.root / "probe").version_ok()

    @property
    def pid(self) -> int:
        """dockerd's PID as it wrote it: the same process we started."""
        return int(self.pidfile.read_text().strip())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def client(self, config_dir: Path) -> DockerClient:
        return DockerClient(self.socket, config_dir)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid if self.pidfile.exists() else self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.containerd.stop()


class DockerClient:
    """The docker CLI with a private DOCKER_CONFIG (logins, certs.d) against one daemon."""

    def __init__(self, socket: Path, config_dir: Path):
        self.config_dir = config_dir
        config_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(config_dir),
            "DOCKER_HOST": f"unix://{socket}",
            "DOCKER_CONFIG": str(config_dir),
        }

    def __call__(self, *args: str, timeout: float = 120.0, check: bool = True, stdin: str | None = None) -> Result:
        return run(["docker", *args], timeout=timeout, env=self.env, check=check, stdin=stdin)

    def version_ok(self) -> bool:
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env=self.env,
            capture_output=True,
            check=False,
            timeout=10,
        )
        return probe.returncode == 0

    def login(self, host: str, who: Credentials, check: bool = True) -> Result:
        """`docker login --password-stdin`. When it succeeds the private config holds `who`: the password,
        or, where the registry's token endpoint gave dockerd a refresh token, that instead."""
        result = self("login", "--username", who.user, "--password-stdin", host, stdin=who.password, check=check)
        if result.returncode == 0:
            assert "Login Succeeded" in result.stdout, result.describe()
            stored = self.auths()[host]
            user, _, password = base64.b64decode(stored["auth"]).decode().partition(":")
            assert user == who.user
            assert password == who.password or (not password and stored.get("identitytoken")), stored.keys()
        return result

    def auths(self) -> dict[str, dict[str, str]]:
        """The `auths` of the private config.json: what docker login stored."""
        config = self.config_dir / "config.json"
        auths: dict[str, dict[str, str]] = json.loads(config.read_text()).get("auths", {}) if config.exists() else {}
        return auths

    def import_files(self, files: dict[str, bytes], tarball: Path, ref: str) -> str:
        """`docker import` of a tarball of `files` built here: the new image's ID."""
        tarball.write_bytes(tar_bytes(files))
        image_id = self("import", "--change", 'CMD ["/hello"]', str(tarball), ref).stdout.strip()
        assert image_id.startswith("sha256:"), image_id
        return image_id

    def push(self, ref: str) -> tuple[str, int]:
        """`docker push`: the manifest digest and size it reports."""
        out = self("push", ref).stdout
        found = PUSHED.search(out)
        assert found, f"no digest in docker push output:\n{out}"
        return found.group(1), int(found.group(2))

    def inspect(self, ref: str, field: str) -> str:
        return self("image", "inspect", "--format", "{{json ." + field + "}}", ref).stdout.strip()

    def saved_files(self, ref: str, dest: Path) -> dict[str, bytes]:
        """The files of an image's layers, as `docker save` writes them (later layers win)."""
        archive = dest / "saved.tar"
        with archive.open("wb") as out:
            proc = subprocess.run(
                ["docker", "save", ref], env=self.env, stdout=out, stderr=subprocess.PIPE, check=False, timeout=120
            )
        assert proc.returncode == 0, f"docker save {ref}: {proc.stderr.decode(errors='replace')}"
        files: dict[str, bytes] = {}
        with tarfile.open(archive) as tar:
            manifest = json.loads(_member(tar, "manifest.json"))
            for layer in manifest[0]["Layers"]:
                files.update(untar(_member(tar, layer)))
        return files


def small_image(docker: DockerClient, scratch: Path, ref: str, label: str) -> tuple[str, dict[str, bytes]]:
    """A small image made with `docker import`: (image ID, files in it). Its layer is new to the
    session's daemon, which keeps the layers of every earlier test."""
    files = {
        "hello": f"imported by docker for {label}, {uuid.uuid4()}\n".encode(),
        "etc/os-release": b"ID=dockyard\n",
        "bin/data": bytes(range(256)) * 64,
    }
    return docker.import_files(files, scratch / f"{label}.tar", ref), files


def check_stored(http: httpx.Client, name: str, tag: str, digest: str, image_id: str, files: dict[str, bytes]) -> None:
    """What docker pushed is in dockyard as docker described it, byte for byte."""
    resp = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == DOCKER_MANIFEST
    assert resp.headers["docker-content-digest"] == digest
    assert sha256_digest(resp.content) == digest
    manifest = resp.json()
    assert manifest["config"]["digest"] == image_id
    [layer] = manifest["layers"]
    blob = http.get(f"/v2/{name}/blobs/{layer['digest']}")
    assert blob.status_code == 200
    assert sha256_digest(blob.content) == layer["digest"]
    assert untar(blob.content) == files


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    extracted = tar.extractfile(name)
    assert extracted is not None, f"{name} missing from the saved image"
    with contextlib.closing(extracted):
        return extracted.read()
