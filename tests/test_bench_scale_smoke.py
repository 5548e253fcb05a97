"""The scale benchmark on a tiny shape, so that it keeps working: generation through the stores'
interfaces, every page, the manifest GET rounds and both GC passes. It measures nothing here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHAPE = ["--tags", "300", "--tag-manifests", "10", "--repositories", "50", "--garbage", "50"]


@pytest.mark.slow
def test_scale_benchmark_runs_on_a_tiny_shape(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.scale", "--backends", "sqlite", *SHAPE]
    command += ["--rounds", "2", "--get-rounds", "1", "--duration", "1", "--out", str(tmp_path), "--name", "smoke"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    sqlite = json.loads((tmp_path / "smoke.json").read_text())["backends"]["sqlite"]
    listed = {name: page["items"] for name, page in sqlite["pages"].items() if "search" not in name}
    assert all(listed.values()), listed
    assert sqlite["gc"]["garbage_pass_report"] == "freed 0 manifests, 50 blobs, 990 bytes"
    assert len(sqlite["manifest_get"]["ratios"]) == 1
