"""The package builds a wheel and an sdist; the wheel's console script serves, the UI included, from a
clean venv."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import httpx
import pytest
from bench.procs import free_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, cwd=cwd)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_and_sdist_install_and_serve(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", dist, ROOT)
    [wheel] = dist.glob("dockyard-*.whl")
    [sdist] = dist.glob("dockyard-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(name.endswith("meta/migrations/sqlite/0001_initial.sql") for name in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    run(env_dir / "bin" / "pip", "install", "--quiet", wheel)
    dockyard = env_dir / "bin" / "dockyard"
    assert run(dockyard, "--version").startswith("dockyard ")
    port = free_port()
    # From another directory, so that nothing is imported from the source tree.
    server = subprocess.Popen(
        [dockyard, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", tmp_path / "data"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        assert server.poll() is None, "the installed dockyard exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 60, "the installed dockyard never became ready")
        # The UI's static files are package data: the installed wheel serves them.
        page = httpx.get(f"http://127.0.0.1:{port}/ui/")
        assert page.status_code == 200
        assert b"<title>dockyard</title>" in page.content
    finally:
        server.terminate()
        server.wait(30)
