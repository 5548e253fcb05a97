"""Notification settings: validated at start-up, secrets masked wherever configuration is shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

SECRET = "Bearer never-print-me"


def _dockyard_config(tmp_path: Path, endpoints: list[dict[str, object]]) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"notifications": {"endpoints": endpoints}}))
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "config", "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
    )


def test_header_values_and_url_passwords_are_masked(tmp_path: Path) -> None:
    shown = _dockyard_config(
        tmp_path, [{"url": "https://user:hunter2@hooks.example.com/in", "headers": {"Authorization": SECRET}}]
    )
    assert shown.returncode == 0, shown.stderr
    assert "never-print-me" not in shown.stdout
    assert "hunter2" not in shown.stdout
    assert "hooks.example.com/in" in shown.stdout


def test_endpoints_need_distinct_names(tmp_path: Path) -> None:
    same = {"url": "http://127.0.0.1:1/events"}
    refused = _dockyard_config(tmp_path, [same, same])
    assert refused.returncode != 0
    assert "distinct names" in refused.stderr


def test_unknown_action_is_refused(tmp_path: Path) -> None:
    refused = _dockyard_config(tmp_path, [{"url": "http://127.0.0.1:1/events", "events": ["push", "tag"]}])
    assert refused.returncode != 0
    assert "events" in refused.stderr
