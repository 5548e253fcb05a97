"""The Dockerfile builds offline and the image serves: /healthz from outside, its HEALTHCHECK inside,
as the unprivileged user. podman runs with private storage, as the interop tests do.

The base image is made from Debian packages by .ci/install-ops.sh (no container registry is
reachable here); without it, or without podman and runc, the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.procs import free_port
from tests.interop.clients import ContainersConfig, Result
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
BASE_ROOTFS = Path(os.environ.get("DOCKYARD_BASE_ROOTFS", "/var/cache/dockyard-ci/debian-bookworm-python3.tar"))
BASE_IMAGE = "localhost/dockyard-base:test"

pytestmark = pytest.mark.slow


class Podman:
    """podman on private vfs storage; runc, since crun cannot run on this machine's cgroups."""

    def __init__(self, root: Path):
        self.conf = ContainersConfig(root, "127.0.0.1:1")
        self.root = root

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> Result:
        flags = ["--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", str(self.root / "tmp")]
        cmd = ["podman", *self.conf.storage_flags(), *flags, "--runtime", "runc", *args]
        return self.conf.run(cmd, timeout=timeout, check=check)


@pytest.fixture
def podman() -> Iterator[Podman]:
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (.ci/install-interop.sh, .ci/install-ops.sh)")
    if not BASE_ROOTFS.is_file():
        pytest.fail(f"no base image root filesystem at {BASE_ROOTFS}: run .ci/install-ops.sh")
    # podman wants short storage paths (the runroot under 50 characters): not pytest's tmp_path.
    root = Path(tempfile.mkdtemp(prefix="dyc-", dir="/tmp"))
    try:
        yield Podman(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(1800)  # the image build alone may take its 15 minutes
def test_the_image_builds_and_serves(podman: Podman) -> None:
    podman("import", "--change", 'CMD ["/bin/bash"]', str(BASE_ROOTFS), BASE_IMAGE, timeout=300)
    podman(
        "build",
        "--format", "docker",  # OCI image configs cannot carry a HEALTHCHECK
        "--isolation", "chroot",
        "--network", "host",
        "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}",
        "--tag", "localhost/dockyard:test",
        str(ROOT),
        timeout=900,
    )  # fmt: skip
    port = free_port()
    podman(
        "run", "--detach", "--name", "dockyard-test", "--network", "host",
        "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
        "--env", f"DOCKYARD_LISTEN=127.0.0.1:{port}",
        "localhost/dockyard:test",
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, 60, "the container never answered /healthz")
        assert httpx.get(url + "/readyz").json() == {"status": "ready"}
        assert podman("healthcheck", "run", "dockyard-test", check=False).returncode == 0
        assert podman("exec", "dockyard-test", "id", "-u").stdout.strip() == "10001"
        # No build tools and no pip in the final image.
        probe = podman("exec", "dockyard-test", "sh", "-c", "command -v pip pip3 gcc cc || true")
        assert probe.stdout.strip() == ""
    finally:
        podman("rm", "--force", "dockyard-test", check=False)
