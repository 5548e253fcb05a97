"""The auth benchmark in its smoke mode, so that it keeps working: three dockyards (no auth,
Basic, token) and the token endpoint. It measures nothing here; it must only run to the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_auth_benchmark_runs_every_variant(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.auth", "--smoke", "--out", str(tmp_path), "--name", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    rounds = json.loads((tmp_path / "smoke.json").read_text())["rounds"]
    assert set(rounds[0]) == {"none", "basic", "bearer", "token_endpoint"}
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in rounds[0].values())
    assert "| bearer |" in (tmp_path / "smoke.md").read_text()
