"""The benchmark harness in its smoke mode, so that it keeps working: dockyard against CNCF
Distribution with tiny sizes. It measures nothing here; it must only run every workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = {"manifest_get_tag", "manifest_head_digest", "blob_get_1", "blob_get_8", "push_monolithic", "mixed"}


@pytest.mark.slow
def test_benchmark_harness_runs_every_workload(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path), "--name", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert report["failures"] == []
    measured = set(report["rounds"][0]["results"])
    assert measured >= WORKLOADS, f"missing workloads: {WORKLOADS - measured}"
    assert "| target | dockyard | holds |" in (tmp_path / "smoke.md").read_text()
