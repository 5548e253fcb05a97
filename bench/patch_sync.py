"""What making each PATCH durable before its 202 costs: PATCH latency for chunks of several sizes.

    python -m bench.patch_sync [--baseline-src DIR] [--patches 30] [--rounds 3] [--sizes 64k,1m,8m]

Each round starts dockyard (1 worker) from this tree and, with --baseline-src, from another source
tree (a checkout from before PATCHes were synced, say), in turn. Per chunk size it opens one upload
session, sends `--patches` PATCHes of that size on one keep-alive connection, each timed from its
first byte sent to its 202, then completes the blob with an empty PUT (timed too). `sync` runs
before each series, so that none waits behind the writeback of the one before. Reports the median
and p90 PATCH latency per tree and size, over all rounds, and writes
bench/results/<date>-<machine>-patch-sync.{md,json}. The data directories live under --work-dir
(default: a temporary directory under /var/tmp, on a disk rather than tmpfs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.http import Conn
from bench.oci import start_upload
from bench.procs import start_dockyard
from bench.run import machine, machine_slug

REPO = "bench/patch-sync"
Samples = dict[str, dict[int, list[float]]]  # tree -> chunk size -> seconds
Series = tuple[list[float], float]  # seconds of each PATCH, of the completing PUT
_UNITS = {"k": 1 << 10, "m": 1 << 20}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(text[:-1]) * _UNITS[text[-1]] if text[-1] in _UNITS else int(text)


def series(conn: Conn, size: int, patches: int) -> Series:
    """Seconds of each PATCH of one session, and of the PUT that completes it."""
    chunk = os.urandom(size)
    hasher = hashlib.sha256()
    location = start_upload(conn, REPO)
    latencies = []
    for number in range(patches):
        first, last = number * size, (number + 1) * size - 1
        headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{first}-{last}"}
        started = time.perf_counter()
        response = conn.request("PATCH", location, headers, chunk)
        latencies.append(time.perf_counter() - started)
        if response.status != 202:
            raise RuntimeError(f"PATCH: HTTP {response.status} {response.body[:200]!r}")
        hasher.update(chunk)
    started = time.perf_counter()
    separator = "&" if "?" in location else "?"
    response = conn.request("PUT", f"{location}{separator}digest=sha256:{hasher.hexdigest()}")
    if response.status != 201:
        raise RuntimeError(f"PUT: HTTP {response.status} {response.body[:200]!r}")
    return latencies, time.perf_counter() - started


def run_tree(name: str, src: Path, work: Path, sizes: list[int], patches: int) -> dict[int, Series]:
    registry = start_dockyard(name, work / name, 1, env={"PYTHONPATH": str(src)})
    try:
        host, port = registry.host_port
        results = {}
        with Conn(host, port) as conn:
            for size in sizes:
                os.sync()
                results[size] = series(conn, size, patches)
        return results
    finally:
        registry.stop()
        shutil.rmtree(work / name, ignore_errors=True)


def summarize(samples: Samples, puts: Samples) -> dict[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for tree, by_size in samples.items():
        summary[tree] = {}
        for size, latencies in by_size.items():
            ms = sorted(latency * 1000 for latency in latencies)
            summary[tree][str(size)] = {
                "patches": len(ms),
                "p50_ms": statistics.median(ms),
                "p90_ms": ms[int(len(ms) * 0.9)],
                "mb_per_s": size * len(ms) / sum(ms) / 1000,
                "put_p50_ms": statistics.median(puts[tree][size]) * 1000,
            }
    return summary


def markdown(meta: dict[str, object], summary: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "# The cost of a durable PATCH",
        "",
        f"{meta['date']}, {meta['machine']}. `{meta['command']}`",
        "",
        "PATCH latency, first byte sent to 202, on one keep-alive connection; PUT = the empty PUT completing the blob.",
        "",
        "| tree | chunk | PATCHes | p50 ms | p90 ms | MB/s | PUT p50 ms | p50 vs baseline |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    baseline = summary.get("baseline")
    for tree, by_size in summary.items():
        for size, m in by_size.items():
            delta = ""
            if baseline is not None and tree != "baseline":
                delta = f"{m['p50_ms'] - baseline[size]['p50_ms']:+.2f} ms"
            lines.append(
                f"| {tree} | {int(size) >> 10} KiB | {m['patches']:.0f} | {m['p50_ms']:.2f} | {m['p90_ms']:.2f} "
                f"| {m['mb_per_s']:.0f} | {m['put_p50_ms']:.2f} | {delta} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.patch_sync", description=__doc__)
    parser.add_argument("--baseline-src", type=Path, help="the src/ directory of the tree to compare with")
    parser.add_argument("--patches", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="64k,1m,8m")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    sizes = [parse_size(size) for size in args.sizes.split(",")]
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    started = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="dockyard-patch-sync-", dir=args.work_dir or "/var/tmp"))
    samples: Samples = {tree: {size: [] for size in sizes} for tree in trees}
    puts: Samples = {tree: {size: [] for size in sizes} for tree in trees}
    try:
        for round_number in range(args.rounds):
            order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
            for tree in order:
                for size, (latencies, put) in run_tree(tree, trees[tree], work, sizes, args.patches).items():
                    samples[tree][size] += latencies
                    puts[tree][size].append(put)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(samples, puts)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load": os.getloadavg(),
        "command": "python -m bench.patch_sync " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{started.strftime('%Y-%m-%d-%H%M')}-{machine_slug()}-patch-sync"
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "summary": summary}, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(meta, summary))
    print(markdown(meta, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
