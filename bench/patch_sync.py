"""What durable uploads cost: the latency of PATCH, of the PUT completing a session, and of a
monolithic push, for several sizes, against a baseline tree.

    python -m bench.patch_sync [--baseline-src DIR] [--patches 30] [--rounds 3] [--sizes 64k,1m,8m]

Each round starts dockyard (1 worker, SQLite + filesystem) from this tree and, with --baseline-src,
from another source tree (a checkout from before PATCHes were synced, say), in turn. Per size it
opens one upload session and sends `--patches` PATCHes of that size on one keep-alive connection,
then the empty PUT that completes the blob, then pushes `--patches` new blobs of that size
monolithically (one POST with the digest and the body). Each request is timed from its first byte
sent to its answer; `sync` runs before each series, so that none waits behind the writeback of the
one before. Reports p50 and p90 per tree, request and size over all rounds, and writes
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
KINDS = ("patch", "put", "monolithic")
_UNITS = {"k": 1 << 10, "m": 1 << 20}
Samples = dict[str, dict[int, list[float]]]  # kind -> chunk size -> seconds


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(text[:-1]) * _UNITS[text[-1]] if text[-1] in _UNITS else int(text)


def timed(
    conn: Conn, method: str, path: str, expect: int, headers: dict[str, str] | None = None, body: bytes | None = None
) -> float:
    started = time.perf_counter()
    response = conn.request(method, path, headers, body)
    elapsed = time.perf_counter() - started
    if response.status != expect:
        raise RuntimeError(f"{method}: HTTP {response.status} {response.body[:200]!r}")
    return elapsed


def session(conn: Conn, size: int, patches: int, samples: Samples) -> None:
    """`patches` PATCHes of `size` bytes into one session, then the PUT that completes it."""
    chunk = os.urandom(size)
    hasher = hashlib.sha256()
    location = start_upload(conn, REPO)
    for number in range(patches):
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{number * size}-{(number + 1) * size - 1}",
        }
        samples["patch"][size].append(timed(conn, "PATCH", location, 202, headers, chunk))
        hasher.update(chunk)
    separator = "&" if "?" in location else "?"
    samples["put"][size].append(timed(conn, "PUT", f"{location}{separator}digest=sha256:{hasher.hexdigest()}", 201))


def monolithic(conn: Conn, size: int, pushes: int, samples: Samples) -> None:
    """`pushes` new blobs of `size` bytes, each in one POST with its digest."""
    for _ in range(pushes):
        data = os.urandom(size)
        path = f"/v2/{REPO}/blobs/uploads/?digest=sha256:{hashlib.sha256(data).hexdigest()}"
        headers = {"Content-Type": "application/octet-stream"}
        samples["monolithic"][size].append(timed(conn, "POST", path, 201, headers, data))


def run_tree(name: str, src: Path, work: Path, sizes: list[int], patches: int, samples: Samples) -> None:
    registry = start_dockyard(name, work / name, 1, env={"PYTHONPATH": str(src)})
    try:
        with Conn(*registry.host_port) as conn:
            for size in sizes:
                os.sync()
                session(conn, size, patches, samples)
                os.sync()
                monolithic(conn, size, patches, samples)
    finally:
        registry.stop()
        shutil.rmtree(work / name, ignore_errors=True)


def summarize(samples: Samples) -> dict[str, dict[str, float]]:
    """kind/size -> figures, in milliseconds."""
    summary = {}
    for kind, by_size in samples.items():
        for size, latencies in by_size.items():
            ms = sorted(latency * 1000 for latency in latencies)
            summary[f"{kind}/{size}"] = {
                "n": len(ms),
                "p50_ms": statistics.median(ms),
                "p90_ms": ms[int(len(ms) * 0.9)],
            }
    return summary


def markdown(meta: dict[str, object], summaries: dict[str, dict[str, dict[str, float]]]) -> str:
    trees = list(summaries)
    lines = [
        "# The cost of durable uploads",
        "",
        f"{meta['date']}, {meta['machine']}, load {meta['load']}. `{meta['command']}`",
        "",
        "Latency from first byte sent to answer, one keep-alive connection: each PATCH of a session, the",
        "empty PUT completing it, and monolithic pushes (POST with the digest and the body) of new blobs.",
        "",
        "| request | size | n | " + " | ".join(f"{tree} p50 ms | {tree} p90 ms" for tree in trees) + " |",
        "| --- | --- | --- | " + " | ".join("--- | ---" for _ in trees) + " |",
    ]
    for key, first in summaries[trees[0]].items():
        kind, size = key.split("/")
        cells = " | ".join(
            f"{summaries[tree][key]['p50_ms']:.2f} | {summaries[tree][key]['p90_ms']:.2f}" for tree in trees
        )
        lines.append(f"| {kind} | {int(size) >> 10} KiB | {first['n']:.0f} | {cells} |")
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
    samples = {tree: {kind: {size: [] for size in sizes} for kind in KINDS} for tree in trees}
    try:
        for round_number in range(args.rounds):
            order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
            for tree in order:
                run_tree(tree, trees[tree], work, sizes, args.patches, samples[tree])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {tree: summarize(tree_samples) for tree, tree_samples in samples.items()}
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
