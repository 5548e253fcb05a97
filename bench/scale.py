"""dockyard at scale: 1,000,000 tags in one repository and 100,000 repositories, on SQLite and PostgreSQL.

    python -m bench.scale                                   # both backends, the full shape
    python -m bench.scale --backends sqlite --data DIR      # keep (and next time reuse) SQLite's data
    python -m bench.scale --tags 20000 --repositories 2000 --garbage 2000 --rounds 5   # minutes

Per backend the registry is generated straight into the stores (bench/scale_data.py), then one
dockyard (one worker, access log on) serves it and a second one serves a small registry of one
repository with ten tags. Measured:

- pages, each asked `--rounds` times over one keep-alive connection: tags/list (first, middle and
  last page of 100), _catalog (first, middle and last page of 100), and the web UI's first pages;
  the server's own time comes from its access log, beside the loopback round trip;
- manifest GET by tag, wrk on 64 connections, `--get-rounds` rounds alternating with the small
  registry: server CPU per request and the ratio to the small registry's in each round;
- garbage collection: `dockyard gc --now` once over what generation queued (every manifest and blob
  is reviewed, none collected), then over `--garbage` unreferenced blobs, while a client keeps
  asking for the first catalog page.

Results: `bench/results/<date>-scale.{md,json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import scale_data
from bench.http import Conn
from bench.postgres import PostgresCluster
from bench.procs import Registry, start_dockyard
from bench.report import write_results
from bench.scale_data import BIG_REPOSITORY, Shape
from bench.workloads import run_wrk, wrk_script

Json = dict[str, Any]
# `"GET /path" 200 [bytes] 1.234ms`: the access log shows no query strings, so its lines are matched
# to the requests by their order (the page phase sends one request at a time on one connection).
_ACCESS = re.compile(r'"GET (/v2/\S+)" (\d{3}) (?:\d+ )?([\d.]+)ms')
_UI = "/v2/_dockyard/repositories"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pages(shape: Shape) -> dict[str, str]:
    # The last page of 100 starts after item n-101 (the first item, on a shape of fewer than 101).
    middle, last = shape.tag(shape.tags // 2), shape.tag(max(0, shape.tags - 101))
    repo_middle = shape.repository(shape.repositories // 2)
    repo_last = shape.repository(max(0, shape.repositories - 101))
    tags = f"/v2/{BIG_REPOSITORY}/tags/list?n=100"
    return {
        "tags/list, first page": tags,
        "tags/list, middle page": f"{tags}&last={middle}",
        "tags/list, last page": f"{tags}&last={last}",
        "_catalog, first page": "/v2/_catalog?n=100",
        "_catalog, middle page": f"/v2/_catalog?n=100&last={repo_middle}",
        "_catalog, last page": f"/v2/_catalog?n=100&last={repo_last}",
        "UI repositories, first page by name": f"{_UI}?n=50",
        "UI repositories, first page by last push": f"{_UI}?n=50&sort=pushed",
        "UI tags, first page by name": f"{_UI}/{BIG_REPOSITORY}/-/tags?n=50",
        "UI tags, first page by push time": f"{_UI}/{BIG_REPOSITORY}/-/tags?n=50&sort=pushed",
        "UI manifest (tags listed on it)": f"{_UI}/{BIG_REPOSITORY}/-/manifests/{shape.tag(0)}",
        "UI repositories, search (scans names)": f"{_UI}?n=50&q=r/0999",
        "UI tags, search (scans names)": f"{_UI}/{BIG_REPOSITORY}/-/tags?n=50&q=t09999",
    }


def _settled_log_offset(registry: Registry) -> int:
    """Where the next request's access line will start: after a marker request's line, so that lines
    of earlier requests that the log writer had yet to write are behind it."""
    assert registry.log_path is not None
    marker = f"/v2/scale-marker-{uuid.uuid4().hex}/tags/list"
    with Conn(*registry.host_port) as conn:
        conn.request("GET", marker)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = registry.log_path.read_bytes()
        found = text.find(marker.encode())
        if found >= 0:
            return text.index(b"\n", found) + 1
        time.sleep(0.05)  # the access log is written off the request path, within 0.1 s
    raise RuntimeError(f"the access log of {registry.name} never showed {marker}")


def _server_times(registry: Registry, offset: int, count: int) -> list[float]:
    """The server's times (ms) of the next `count` API requests logged from `offset` on."""
    assert registry.log_path is not None
    deadline = time.monotonic() + 10
    while True:
        with registry.log_path.open("rb") as log_file:
            log_file.seek(offset)
            text = log_file.read().decode(errors="replace")
        times = [float(found.group(3)) for found in _ACCESS.finditer(text)]
        if len(times) >= count or time.monotonic() > deadline:
            return times[:count]
        time.sleep(0.05)


def measure_pages(registry: Registry, shape: Shape, rounds: int) -> Json:
    issued: list[str] = []
    client: dict[str, list[float]] = {}
    items: dict[str, int] = {}
    offset = _settled_log_offset(registry)
    with Conn(*registry.host_port) as conn:
        for _ in range(rounds):
            for name, path in pages(shape).items():
                started = time.perf_counter()
                response = conn.request("GET", path)
                client.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status} {response.body[:200]!r}")
                issued.append(name)
                document = json.loads(response.body)
                items[name] = len(next((v for v in document.values() if isinstance(v, list)), []))
    server: dict[str, list[float]] = {}
    for name, ms in zip(issued, _server_times(registry, offset, len(issued)), strict=False):
        server.setdefault(name, []).append(ms)
    return {
        name: {
            "server_median_ms": statistics.median(server.get(name) or [float("nan")]),
            "server_max_ms": max(server.get(name) or [float("nan")]),
            "round_trip_median_ms": statistics.median(times),
            "items": items[name],
        }
        for name, times in client.items()
    }


def measure_gets(big: Registry, small: Registry, rounds: int, duration: float, work: Path) -> Json:
    """Manifest GET by tag on the large and the small registry, alternating; CPU per request."""
    script = wrk_script(work / "get.lua", "GET", scale_data.OCI_MANIFEST)
    path = f"/v2/{BIG_REPOSITORY}/manifests/{Shape().tag(0)}"
    figures: dict[str, list[float]] = {"large": [], "small": []}
    for round_number in range(rounds):
        order = [("large", big), ("small", small)][:: 1 if round_number % 2 == 0 else -1]
        for name, registry in order:
            before = registry.cpu()
            result = run_wrk(registry.url + path, 64, duration, script)
            after = registry.cpu()
            if result["errors"] or before is None or after is None:
                raise RuntimeError(f"manifest GET on the {name} registry: {result}")
            figures[name].append((after - before) / float(result["requests"]) * 1e6)
    ratios = [large / small for large, small in zip(figures["large"], figures["small"], strict=True)]
    return {
        "large_us_per_request": figures["large"],
        "small_us_per_request": figures["small"],
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
    }


def _gc(data_dir: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "gc", "--now", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=7200, check=True,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    return time.perf_counter() - started, lines[-1] if lines else ""


def measure_gc(registry: Registry, data_dir: Path, env: dict[str, str], collect: Callable[[], None]) -> Json:
    """A pass over what generation queued, then one over the garbage `collect` adds, while a client
    asks for the first catalog page back to back."""
    queued_seconds, queued_report = _gc(data_dir, env)
    log(f"  gc over the generated registry: {queued_seconds:.0f} s ({queued_report})")
    collect()
    samples: list[float] = []
    stop = threading.Event()

    def client() -> None:
        with Conn(*registry.host_port) as conn:
            while not stop.is_set():
                started = time.perf_counter()
                conn.request("GET", "/v2/_catalog?n=100")
                samples.append((time.perf_counter() - started) * 1000)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        garbage_seconds, garbage_report = _gc(data_dir, env)
    finally:
        stop.set()
        thread.join()
    log(f"  gc over the garbage: {garbage_seconds:.0f} s ({garbage_report})")
    cuts = statistics.quantiles(samples, n=100) if len(samples) > 1 else [float("nan")] * 99
    return {
        "generated_pass_seconds": queued_seconds,
        "generated_pass_report": queued_report,
        "garbage_pass_seconds": garbage_seconds,
        "garbage_pass_report": garbage_report,
        "catalog_page_during_gc_p50_ms": cuts[49],
        "catalog_page_during_gc_p99_ms": cuts[98],
        "catalog_pages_during_gc": len(samples),
    }


class Backend:
    """The large and the small registry of one metadata backend, their data and servers."""

    def __init__(self, name: str, root: Path, cluster: PostgresCluster | None):
        self.name = name
        self.big_dir, self.small_dir = root / f"{name}-large", root / f"{name}-small"
        for directory in (self.big_dir, self.small_dir):  # on PostgreSQL, for the blobs and the shape only
            directory.mkdir(parents=True, exist_ok=True)
        self.big_url = cluster.create_database() if cluster else None
        self.small_url = cluster.create_database() if cluster else None

    def env(self, url: str | None) -> dict[str, str]:
        return {"DOCKYARD_DATABASE__URL": url} if url else {}

    def generate(self, shape: Shape) -> Json:
        if (self.big_dir / "shape.json").exists() and self.big_url is None:
            if json.loads((self.big_dir / "shape.json").read_text()) == shape.__dict__:
                log(f"{self.name}: reusing the registry generated in {self.big_dir}")
                return {}
            raise SystemExit(f"{self.big_dir} holds a registry of another shape: remove it or pick another --data")
        log(f"{self.name}: generating {shape}")
        small = Shape(tags=10, tag_manifests=1, repositories=10, garbage=0)
        seconds = asyncio.run(scale_data.generate(self.big_dir, self.big_url, shape, log, garbage=False))
        asyncio.run(scale_data.generate(self.small_dir, self.small_url, small, log, garbage=False))
        return seconds


def run_backend(backend: Backend, shape: Shape, args: argparse.Namespace, work: Path) -> Json:
    result: Json = {"generation_seconds": backend.generate(shape)}
    big = start_dockyard(
        "large", work / f"{backend.name}-large", 1, True, env=backend.env(backend.big_url), data_dir=backend.big_dir
    )
    small = start_dockyard(
        "small", work / f"{backend.name}-small", 1, True, env=backend.env(backend.small_url), data_dir=backend.small_dir
    )
    try:
        result["pages"] = measure_pages(big, shape, args.rounds)
        log(f"{backend.name}: pages measured")
        result["manifest_get"] = measure_gets(big, small, args.get_rounds, args.duration, work)
        log(f"{backend.name}: manifest GET large/small {result['manifest_get']['ratio_median']:.2f}x")
        result["gc"] = measure_gc(
            big,
            backend.big_dir,
            backend.env(backend.big_url),
            lambda: asyncio.run(scale_data.add_garbage(backend.big_dir, backend.big_url, shape, log)),
        )
        result["pages_after_gc"] = measure_pages(big, shape, max(3, args.rounds // 4))
    finally:
        big.stop()
        small.stop()
    return result


def markdown(data: Json) -> str:
    meta = data["meta"]
    lines = [
        f"# dockyard at scale, {meta['date']}",
        "",
        f"- machine: {meta['machine']}; load average {meta['loadavg_start']:.1f} at the start, "
        f"{meta['loadavg_end']:.1f} at the end",
        f"- command: `{meta['command']}`, dockyard {meta['revision']}",
        f"- shape: {meta['shape']['tags']:,} tags over {meta['shape']['tag_manifests']:,} manifests in one "
        f"repository, {meta['shape']['repositories']:,} repositories of one image, "
        f"{meta['shape']['garbage']:,} unreferenced blobs; one worker, access log on",
        "",
    ]
    for name, result in data["backends"].items():
        lines += [f"## {name}", ""]
        if result.get("generation_seconds"):
            spent = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in result["generation_seconds"].items())
            lines += [f"Generated through the stores' interfaces in {spent}.", ""]
        lines += [
            f"| page ({data['meta']['rounds']} rounds) | server median ms | server max ms | round trip median ms "
            "| items | server ms after GC |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for page, figures in result["pages"].items():
            after = result.get("pages_after_gc", {}).get(page, {}).get("server_median_ms", float("nan"))
            lines.append(
                f"| {page} | {figures['server_median_ms']:.2f} | {figures['server_max_ms']:.2f} "
                f"| {figures['round_trip_median_ms']:.2f} | {figures['items']} | {after:.2f} |"
            )
        get = result["manifest_get"]
        lines += [
            "",
            f"Manifest GET by tag, server CPU per request: large registry "
            f"{statistics.median(get['large_us_per_request']):.1f} us, small registry "
            f"{statistics.median(get['small_us_per_request']):.1f} us; large/small within each round "
            + ", ".join(f"{ratio:.2f}x" for ratio in get["ratios"])
            + f" (median {get['ratio_median']:.2f}x).",
        ]
        gc = result["gc"]
        lines += [
            "",
            "Garbage collection (`dockyard gc --now`): over what generation queued "
            f"{gc['generated_pass_seconds']:.0f} s "
            f"({gc['generated_pass_report']}); over the unreferenced blobs {gc['garbage_pass_seconds']:.0f} s "
            f"({gc['garbage_pass_report']}); the first catalog page meanwhile p50 "
            f"{gc['catalog_page_during_gc_p50_ms']:.2f} ms, p99 {gc['catalog_page_during_gc_p99_ms']:.2f} ms "
            f"over {gc['catalog_pages_during_gc']} requests (round trip).",
            "",
        ]
    return "\n".join(lines)


def _revision() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=False
    )
    return found.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--tags", type=int, default=Shape.tags)
    parser.add_argument("--tag-manifests", type=int, default=Shape.tag_manifests)
    parser.add_argument("--repositories", type=int, default=Shape.repositories)
    parser.add_argument("--garbage", type=int, default=Shape.garbage)
    parser.add_argument("--rounds", type=int, default=20, help="times each page is asked")
    parser.add_argument("--get-rounds", type=int, default=6, help="rounds of manifest GETs on each registry")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each manifest GET round")
    parser.add_argument("--data", type=Path, help="keep SQLite's generated data here and reuse it next time")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, the clean-up below still runs (servers, the PostgreSQL cluster).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    shape = Shape(args.tags, args.tag_manifests, args.repositories, args.garbage)
    started = dt.datetime.now(dt.UTC)
    meta: Json = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores",
        "command": "python -m bench.scale " + " ".join(argv if argv is not None else sys.argv[1:]),
        "revision": _revision(),
        "shape": shape.__dict__,
        "rounds": args.rounds,
        "loadavg_start": os.getloadavg()[0],
    }
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-scale-"))
    backends: Json = {}
    try:
        for name in args.backends.split(","):
            cluster = PostgresCluster().start() if name == "postgresql" else None
            try:
                root = args.data if args.data and cluster is None else work / "data"
                backends[name] = run_backend(Backend(name, root, cluster), shape, args, work)
            finally:
                if cluster is not None:
                    cluster.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["loadavg_end"] = os.getloadavg()[0]
    data = {"meta": meta, "backends": backends}
    stem = args.name or started.strftime("%Y-%m-%d-%H%M") + "-scale"
    log(f"wrote {write_results(args.out, stem, data, markdown(data))}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
