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
from typing import Any

from bench.procs import Registry

_LINE = re.compile(r"\s*\(([^()]*?)(?::\d+)?\)$")


def _frame_key(frame: str) -> str:
    """'handle (dockyard/http/app.py:120)' -> 'handle (dockyard/http/app.py)'."""
    frame = frame.strip()
    m = _LINE.search(frame)
    if not m:
        return frame
    return f"{frame[: m.start()].strip()} ({m.group(1)})"


_ENTRY = ("dockyard/__main__.py", "dockyard/cli.py", "dockyard/server.py")


def _package(frame: str) -> str:
    m = _LINE.search(frame.strip())
    if not m:
        return "?"
    path = m.group(1)
    if path.startswith("<"):
        return path
    first = path.split("/", 1)[0]
    return first.removesuffix(".py")


def rank(collapsed: str, top: int = 25) -> dict[str, Any]:
    """From py-spy's raw (collapsed) output: samples, and the top functions, lines and packages.

    self: where the sample's innermost Python frame was (time spent in C called from there counts
    there: a sqlite3 query shows up under the function calling execute). inclusive: only dockyard's
    own functions below its start-up chain. Samples of threads without any Python frame (granian's
    runtime threads) are counted as "(no Python frame)"."""
    self_c: Counter[str] = Counter()
    line_c: Counter[str] = Counter()
    incl_c: Counter[str] = Counter()
    pkg_c: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            self_c["(no Python frame)"] += count
            pkg_c["(no Python frame)"] += count
            continue
        keys = [_frame_key(f) for f in frames]
        self_c[keys[-1]] += count
        line_c[frames[-1].strip()] += count
        pkg_c[_package(frames[-1])] += count
        for k in set(keys):
            if "(dockyard/" in k and not any(e in k for e in _ENTRY):
                incl_c[k] += count
    if not total:
        return {"samples": 0}

    def pct(c: Counter[str], n: int = top) -> list[tuple[str, float]]:
        return [(k, 100 * v / total) for k, v in c.most_common(n)]

    return {"samples": total, "self": pct(self_c), "lines": pct(line_c, 15), "inclusive": pct(incl_c),
            "packages": pct(pkg_c, 12)}  # fmt: skip


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
        lines = [
            "# py-spy profiles",
            "",
            "Percentages are of all samples taken in the server's processes during the workload"
            " (idle threads are not sampled).",
            "",
        ]
        for f in self.files:
            r = rank(f.read_text(errors="replace"))
            lines += [f"## {f.stem} ({r['samples']} samples)", ""]
            if not r["samples"]:
                continue
            for title, key in (("self %, by function", "self"), ("self %, by line", "lines"),
                               ("inclusive %, dockyard functions", "inclusive"),
                               ("self %, by package of the innermost frame", "packages")):  # fmt: skip
                lines += [f"| {title} | |", "| ---: | --- |"]
                lines += [f"| {p:.1f} | `{k}` |" for k, p in r[key]]
                lines.append("")
        if self.files:
            (self.out_dir / "summary.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Summarize raw py-spy files again: python -m bench.profile DIR."""
    out_dir = Path((argv if argv is not None else sys.argv[1:])[0])
    prof = Profiler.__new__(Profiler)
    prof.out_dir = out_dir
    prof.files = sorted(out_dir.glob("*.txt"))
    prof.summarize()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
