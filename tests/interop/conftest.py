"""Fixtures for the interoperability suite: real registry clients against the session's registry.

Every client runs with private configuration and state in a temporary directory of its own:
nothing here reads or writes /etc/containers, /var/lib/containers, /etc/docker, /var/lib/docker or
the machine's containerd. docker talks to a private dockerd started once per session; the login
tests run against dockyards of their own with auth on (`secured`, `secured_tls`), once per mode.

Run it with `.ci/install-interop.sh .venv && .venv/bin/python -m pytest tests/interop -m interop`.
Against another registry: `DOCKYARD_TEST_URL=http://127.0.0.1:PORT`; if that registry writes an
access log in combined format, `DOCKYARD_INTEROP_ACCESS_LOG=/path/to/log` lets the suite count
its requests the way dockyard's /metrics does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.interop.auth import MODES, SecuredRegistry, make_tls, start_secured
from tests.interop.clients import (
    Containerd,
    ContainersConfig,
    HostState,
    Skopeo,
    StorageTool,
    Target,
    can_private_mount,
    host_state,
)
from tests.interop.docker import DockerClient, DockerDaemon
from tests.interop.harness import TrafficMeter, log
from tests.support.backends import Registry, registry_params, session_registry

TOOLS = ("skopeo", "podman", "buildah", "umoci", "ctr", "containerd", "docker", "dockerd")

_REPORT: list[tuple[str, str, str]] = []


def _short_tmp(prefix: str) -> Path:
    # Short paths: containerd puts unix sockets below its state directory, and podman refuses
    # a runroot longer than 50 characters.
    return Path(tempfile.mkdtemp(prefix=f"dyi-{prefix}-", dir="/tmp"))


@pytest.fixture
def scratch(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A temp dir of the test's own, removed afterwards whatever happened."""
    path = _short_tmp("t")
    log(f"{request.node.name}: scratch dir {path}")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Record a finding (upload style, timings, RSS) for the run's closing summary."""

    def add(key: str, value: str) -> None:
        request.node.user_properties.append((key, value))
        _REPORT.append((request.node.name, key, value))
        log(f"REPORT {request.node.name}: {key} = {value}")

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT:
        return
    terminalreporter.section("dockyard interop findings")
    for test, key, value in _REPORT:
        terminalreporter.write_line(f"{test}: {key}: {value}")


@pytest.fixture(scope="session", params=registry_params(["sqlite-fs"]))
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The clients' behaviour does not depend on the metadata backend: one run, not one per backend."""
    yield from session_registry(request, tmp_path_factory)


@pytest.fixture(scope="session")
def host_before() -> HostState:
    """The machine's container configuration and state as the interop suite found it."""
    return host_state()


@pytest.fixture(scope="session")
def tools_present(host_before: HostState) -> None:
    if not can_private_mount():
        log("unshare --mount unavailable: containers tools fall back to /var/lib/containers/cache")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"interop clients missing: {missing}; run .ci/install-interop.sh first", pytrace=False)


@pytest.fixture(scope="session")
def target(registry: Registry, tools_present: None) -> Target:
    host = registry.url.removeprefix("http://").rstrip("/")
    access = os.environ.get("DOCKYARD_INTEROP_ACCESS_LOG")
    meter = TrafficMeter(
        registry.url,
        dockyard=registry.server is not None,
        access_log=Path(access) if access and registry.server is None else None,
    )
    return Target(registry.url, host, registry.server is not None, meter)


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Unique repository names for this test: repo("app") -> "interop/<test>-app-<random>"."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower().removeprefix("test_"))[:30]
    stem = "-".join(p for p in stem.split("-") if p)

    def make(suffix: str = "img") -> str:
        return f"interop/{stem}-{suffix}-{uuid.uuid4().hex[:8]}"

    return make


# --------------------------------------------------------------------------- containers/image tools


@pytest.fixture
def containers_conf(scratch: Path, target: Target) -> ContainersConfig:
    return ContainersConfig(scratch / "c", target.host)


@pytest.fixture
def skopeo(containers_conf: ContainersConfig) -> Skopeo:
    return Skopeo(containers_conf)


@pytest.fixture
def podman(containers_conf: ContainersConfig) -> StorageTool:
    return StorageTool("podman", containers_conf)


@pytest.fixture
def buildah(containers_conf: ContainersConfig) -> StorageTool:
    return StorageTool("buildah", containers_conf)


# --------------------------------------------------------------------------- containerd


@pytest.fixture(scope="module")
def containerd(tools_present: None) -> Iterator[Containerd]:
    root = _short_tmp("ctrd")
    daemon = Containerd(root)
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        # The native snapshotter leaves read-only dirs; make sure they go.
        subprocess.run(["chmod", "-R", "u+w", str(root)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- docker


@pytest.fixture(scope="session")
def docker_daemon(tools_present: None) -> Iterator[DockerDaemon]:
    """One private dockerd for the session (its containerd too), stopped by PID at the end."""
    if not can_private_mount():
        pytest.fail("dockerd needs a private mount namespace (unshare --mount) to keep off /run", pytrace=False)
    root = _short_tmp("dk")
    daemon = DockerDaemon(root)
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        subprocess.run(["chmod", "-R", "u+w", str(root)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def docker(docker_daemon: DockerDaemon, scratch: Path) -> DockerClient:
    """The docker CLI with a DOCKER_CONFIG (logins, certs.d) of this test's own."""
    return docker_daemon.client(scratch / "docker-config")


# --------------------------------------------------------------------------- authentication


def _secured(name: str, mode: str, tls: bool) -> Iterator[SecuredRegistry]:
    root = _short_tmp(name)
    try:
        secured = start_secured(root, mode, make_tls(root / "tls") if tls else None)
        log(f"{name}: dockyard with auth in {mode} mode at {secured.target.url}")
        try:
            yield secured
        finally:
            secured.server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", params=MODES)
def secured(request: pytest.FixtureRequest, tools_present: None) -> Iterator[SecuredRegistry]:
    """dockyard with authentication on, once in Basic mode and once in token mode."""
    yield from _secured(f"auth-{request.param}", request.param, tls=False)


@pytest.fixture(scope="module", params=MODES)
def secured_tls(request: pytest.FixtureRequest, tools_present: None) -> Iterator[SecuredRegistry]:
    """The same over HTTPS, with a server certificate from a CA made for the test."""
    yield from _secured(f"tls-{request.param}", request.param, tls=True)


# --------------------------------------------------------------------------- plain HTTP


@pytest.fixture
def http(target: Target) -> Iterator[httpx.Client]:
    """A plain HTTP client for checks no registry client exposes (referrers filters, headers)."""
    with httpx.Client(base_url=target.url, timeout=30.0) as client:
        yield client
