"""Sample a server's Python stacks with py-spy during a workload, and rank functions by time."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.procs import Registry

_LINE = re.compile(r"\s*\(([^()]*?)(?::\d+)?\)$")


def _frame_key(frame: str) -> str:
    """'handle (dockyard/http/app.py:120)' -> 'handle (dockyard/http/app.py)'."""
    frame = frame.strip()
    m = _LINE.search(frame)
    if not m:
        return frame
    return f"{frame[: m.start()].strip()} ({m.group(1)})"


def rank(collapsed: str, top: int = 25) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's raw (collapsed) output: total samples, top functions by self %, by inclusive %."""
    self_c: Counter[str] = Counter()
    incl_c: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        keys = [_frame_key(f) for f in frames]
        self_c[keys[-1]] += count
        for k in set(keys):
            incl_c[k] += count
    if not total:
        return 0, [], []
    return (
        total,
        [(k, 100 * c / total) for k, c in self_c.most_common(top)],
        [(k, 100 * c / total) for k, c in incl_c.most_common(top)],
    )


class Profiler:
    def __init__(self, out_dir: Path, rate: int = 200) -> None:
        self.out_dir = out_dir
        self.rate = rate
        self.files: list[Path] = []
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise SystemExit("py-spy not found: pip install py-spy")
        self.exe = exe

    @contextlib.contextmanager
    def record(self, reg: Registry, label: str) -> Iterator[None]:
        if reg.root_pid is None:
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out = self.out_dir / f"{label}.txt"
        proc = subprocess.Popen(
            [
                self.exe,
                "record",
                "--pid",
                str(reg.root_pid),
                "--subprocesses",
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if out.exists():
                self.files.append(out)

    def summarize(self) -> None:
        lines = ["# py-spy profiles", ""]
        for f in self.files:
            total, by_self, by_incl = rank(f.read_text(errors="replace"))
            lines += [f"## {f.stem} ({total} samples)", "", "| self % | function |", "| ---: | --- |"]
            lines += [f"| {p:.1f} | `{k}` |" for k, p in by_self]
            lines += ["", "| inclusive % | function |", "| ---: | --- |"]
            lines += [f"| {p:.1f} | `{k}` |" for k, p in by_incl]
            lines.append("")
        if self.files:
            (self.out_dir / "summary.md").write_text("\n".join(lines))
