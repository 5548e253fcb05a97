"""The `dockyard` command: help, configuration precedence and clean errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def dockyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **(env or {})},
    )


def test_help_lists_the_commands() -> None:
    result = dockyard("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "config" in result.stdout
    serve_help = dockyard("serve", "--help")
    assert "--listen" in serve_help.stdout
    assert "--data-dir" in serve_help.stdout


def test_defaults_need_no_configuration() -> None:
    settings = json.loads(dockyard("config").stdout)
    assert settings["listen"] == "127.0.0.1:5000"
    assert settings["limits"]["manifest_max_bytes"] == 4 * 1024 * 1024


def test_flags_beat_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.yaml"
    config.write_text("listen: 0.0.0.0:6000\nworkers: 3\nlimits:\n  manifest_max_bytes: 65536\n")
    env = {"DOCKYARD_WORKERS": "2", "DOCKYARD_LIMITS__PAGE_MAX_ENTRIES": "50"}
    result = dockyard("config", "--config", str(config), "--listen", "127.0.0.1:7000", env=env)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["listen"] == "127.0.0.1:7000"
    assert settings["workers"] == 2
    assert settings["limits"]["manifest_max_bytes"] == 65536
    assert settings["limits"]["page_max_entries"] == 50


def test_invalid_configuration_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    for args, env in [
        (["config", "--listen", "nonsense"], {}),
        (["config"], {"DOCKYARD_WORKERS": "many"}),
        (["config", "--config", str(tmp_path / "missing.yaml")], {}),
    ]:
        result = dockyard(*args, env=env)
        assert result.returncode != 0
        assert "invalid configuration" in result.stderr
        assert "Traceback" not in result.stderr


def test_serve_reports_a_busy_port_cleanly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dockyard("serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data"))
    assert result.returncode != 0
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "backtrace" not in result.stderr


def test_a_reader_that_left_ends_a_command_quietly(tmp_path: Path) -> None:
    # As `dockyard audit | head -1` once head has its line: the pipe's reading end is closed.
    reading, writing = os.pipe()
    os.close(reading)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dockyard", "config", "--data-dir", str(tmp_path)],
            stdout=writing,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
            env=clean,
        )
    finally:
        os.close(writing)
    assert (result.returncode, result.stderr) == (1, "")
