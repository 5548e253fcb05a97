"""How soon a tag moved on one dockyard instance is seen by another that shares its metadata.

    python -m bench.staleness [--moves 200] [--backend pg,sqlite]

Per backend, two instances share one database and one data directory. Each move: the reader GETs
the tag (so its lookup cache holds the old answer), the writer moves the tag (PUT, 201), then the
reader GETs the tag on its keep-alive connection until it serves the new manifest. Staleness is the
time from the 201 to the first fresh answer; a value of about one GET round trip means the first
GET after the 201 was fresh already. Writes bench/results/<date>-<machine>-staleness.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import oci
from bench.http import Conn
from bench.postgres import PostgresCluster
from bench.procs import Registry, start_dockyard
from bench.run import machine, machine_slug

REPO = "bench/staleness"
TAG = "moving"


def measure(writer: Registry, reader: Registry, moves: int) -> list[float]:
    """Seconds from each move's 201 to the reader's first fresh answer."""
    config, layer = oci.config_blob("staleness"), oci.Blob.of(os.urandom(1024))
    delays = []
    with Conn(*writer.host_port) as push, Conn(*reader.host_port) as pull:
        oci.ensure_blob(push, REPO, config)
        oci.ensure_blob(push, REPO, layer)
        oci.put_manifest(push, REPO, TAG, oci.image_manifest(config, [layer], "start"))
        for move in range(moves):
            oci.get_manifest(pull, REPO, TAG)
            body = oci.image_manifest(config, [layer], f"move {move}")
            oci.put_manifest(push, REPO, TAG, body)
            acknowledged = time.perf_counter()
            while oci.get_manifest(pull, REPO, TAG).body != body:
                if time.perf_counter() - acknowledged > 10:
                    raise RuntimeError("the reader never saw the move")
            delays.append(time.perf_counter() - acknowledged)
    return delays


def summary(delays: list[float]) -> dict[str, float]:
    ms = sorted(delay * 1000 for delay in delays)
    return {
        "moves": len(ms),
        "p50_ms": statistics.median(ms),
        "p90_ms": ms[int(len(ms) * 0.9)],
        "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max_ms": ms[-1],
    }


def run_backend(backend: str, work: Path, moves: int, postgres: PostgresCluster | None) -> dict[str, float]:
    env = {"DOCKYARD_DATABASE__URL": postgres.create_database()} if postgres else {}
    shared = work / backend
    writer = start_dockyard(f"{backend}-writer", shared, 1, env=env)
    try:
        reader = start_dockyard(f"{backend}-reader", shared, 1, env=env)
        try:
            return summary(measure(writer, reader, moves))
        finally:
            reader.stop()
    finally:
        writer.stop()


def markdown(meta: dict[str, object], results: dict[str, dict[str, float]]) -> str:
    lines = [
        "# Cross-instance staleness of a moved tag",
        "",
        f"{meta['date']}, {meta['machine']}. `{meta['command']}`",
        "",
        "Two dockyard instances (1 worker each) share one metadata database and data directory; time from",
        "the writer's 201 to the reader's first GET that serves the moved tag.",
        "",
        "| backend | moves | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for backend, m in results.items():
        lines.append(
            f"| {backend} | {m['moves']:.0f} | {m['p50_ms']:.2f} | {m['p90_ms']:.2f} | {m['p99_ms']:.2f} "
            f"| {m['max_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.staleness", description=__doc__)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--backend", default="pg,sqlite", help="comma-separated: pg, sqlite")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backend.split(",") if name.strip()]
    started = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="dockyard-staleness-"))
    postgres = PostgresCluster().start() if "pg" in backends else None
    try:
        results = {
            backend: run_backend(backend, work, args.moves, postgres if backend == "pg" else None)
            for backend in backends
        }
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": "python -m bench.staleness " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{started.strftime('%Y-%m-%d-%H%M')}-{machine_slug()}-staleness"
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(meta, results))
    print(markdown(meta, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
