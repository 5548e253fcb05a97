"""The pull-through cache measured side by side with local content, in one run, default configuration.

    .venv/bin/python -m bench.proxy [--rounds 5] [--size-mib 256] [--duration 5]

One Distribution 2.8.2 upstream and one dockyard (1 worker, SQLite + filesystem, the default
configuration) pulling through it by the prefix `hub` (default tag TTL) and `reval` (TTL 0: every pull
by tag revalidates). The same small image is pushed to dockyard locally too. In interleaved rounds:

- cache hit: server CPU per request (wrk, 64 connections) of a manifest GET by tag and of a 4 KiB blob
  GET from the cache repository, against the same content in the local repository;
- miss: a fresh blob of `--size-mib` pulled through dockyard with curl, against a direct GET of it from
  the upstream (TTFB and total) and against the miss floor (bench/miss_floor.py: receiving, hashing,
  storing and sending the same bytes with no registry around them), and dockyard's peak RSS growth
  during the miss against a local GET of a blob of the same size;
- revalidation: sequential GETs by tag on one connection, TTL 0 against a hit, and the upstream
  requests each one cost (from dockyard's metrics).

Results go to bench/results/<date>-proxy.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import oci
from bench.http import Conn
from bench.oci import Blob, push_blob_monolithic
from bench.procs import Registry, start_distribution, start_dockyard, start_miss_floor
from bench.workloads import RssWatch, run_wrk, wrk_script

SMALL = 4096
CONNECTIONS = 64
SEQUENTIAL = 200
Json = dict[str, Any]
T = TypeVar("T")


def _conn(reg: Registry) -> Conn:
    host, port = reg.host_port
    return Conn(host, port, timeout=300)


def small_image() -> tuple[list[Blob], bytes]:
    """A config and one small layer, and the manifest of them."""
    config = Blob.of(json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    layer = Blob.of(os.urandom(SMALL))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": oci.OCI_LAYER, "digest": layer.digest, "size": layer.size}],
        }
    ).encode()
    return [config, layer], manifest


def push_image(reg: Registry, repository: str, blobs: list[Blob], manifest: bytes) -> None:
    with _conn(reg) as conn:
        for blob in blobs:
            push_blob_monolithic(conn, repository, blob)
        response = conn.request(
            "PUT", f"/v2/{repository}/manifests/latest", body=manifest, headers={"Content-Type": oci.OCI_MANIFEST}
        )
        assert response.status == 201, response.body[:300]


def pull(url: str, digest: str, repository: str) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        assert client.get(f"/v2/{repository}/manifests/latest", headers={"Accept": oci.ACCEPT}).status_code == 200
        assert client.get(f"/v2/{repository}/blobs/{digest}").status_code == 200


def proxy_metric(reg: Registry, name: str, **labels: str) -> float:
    text = httpx.get(reg.url + "/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def cpu_per_request(reg: Registry, url: str, script: Path, duration: float) -> Json:
    before = reg.cpu()
    result = run_wrk(url, CONNECTIONS, duration, script)
    after = reg.cpu()
    assert before is not None, "the server's CPU time is not visible"
    assert after is not None, "the server's CPU time is not visible"
    assert result["errors"] == 0, result
    return {"us_per_request": (after - before) / result["requests"] * 1e6, "rps": result["rps"]}


def curl(url: str) -> Json:
    start = time.perf_counter()
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{time_starttransfer} %{size_download} %{http_code}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[2] == "200", out
    return {"ttfb_s": float(out[0]), "total_s": time.perf_counter() - start, "bytes": int(out[1])}


def sequential(reg: Registry, path: str) -> list[float]:
    latencies = []
    with _conn(reg) as conn:
        for _ in range(SEQUENTIAL):
            start = time.perf_counter()
            response = conn.request("GET", path, headers={"Accept": oci.ACCEPT})
            latencies.append(time.perf_counter() - start)
            assert response.status == 200
    return latencies


def rotated(items: list[T], turn: int) -> list[T]:
    """`items` starting at position `turn` (modulo their number), so that each round leads with another."""
    turn %= len(items)
    return items[turn:] + items[:turn]


def miss_round(upstream: Registry, floor: Registry, dockyard: Registry, size: int, number: int) -> Json:
    """One fresh blob fetched directly, through the floor and through dockyard, in rotating order."""
    blob = Blob.of(os.urandom(size))
    with _conn(upstream) as conn:
        push_blob_monolithic(conn, "bench/big", blob)
    path = f"bench/big/blobs/{blob.digest}"

    def miss() -> Json:
        with RssWatch(dockyard) as watch:
            result = curl(f"{dockyard.url}/v2/hub/{path}")
        return {**result, "rss_growth_mb": watch.growth_mb()}

    fetches: list[tuple[str, Callable[[], Json]]] = [
        ("direct", lambda: curl(f"{upstream.url}/v2/{path}")),
        ("floor", lambda: curl(f"{floor.url}/v2/hub/{path}")),
        ("miss", miss),
    ]
    return {name: fetch() for name, fetch in rotated(fetches, number)}


def local_pull_rss(dockyard: Registry, digest: str) -> float | None:
    with RssWatch(dockyard) as watch:
        curl(f"{dockyard.url}/v2/local/big/blobs/{digest}")
    return watch.growth_mb()


def run(args: argparse.Namespace, work: Path) -> Json:
    upstream = start_distribution("distribution", work / "distribution")
    config = work / "dockyard.yaml"
    config.write_text(
        json.dumps(
            {
                "proxy": {
                    "upstreams": [
                        {"name": "hub", "url": upstream.url, "prefix": "hub"},
                        {"name": "reval", "url": upstream.url, "prefix": "reval", "tag_ttl_seconds": 0},
                    ]
                }
            }
        )
    )
    floor = start_miss_floor(work / "miss-floor", upstream, "hub")
    dockyard = start_dockyard("dockyard", work / "dockyard", 1, env={"DOCKYARD_CONFIG": str(config)})
    try:
        return measure(args, work, upstream, floor, dockyard)
    finally:
        dockyard.stop()
        floor.stop()
        upstream.stop()


def measure(args: argparse.Namespace, work: Path, upstream: Registry, floor: Registry, dockyard: Registry) -> Json:
    blobs, manifest = small_image()  # the same content upstream and pushed locally
    push_image(upstream, "bench/app", blobs, manifest)
    push_image(dockyard, "local/app", blobs, manifest)
    layer = blobs[1].digest
    for repository in ("hub/bench/app", "reval/bench/app"):
        pull(dockyard.url, layer, repository)
    big = Blob.of(os.urandom(args.size_mib << 20))
    with _conn(dockyard) as conn:
        push_blob_monolithic(conn, "local/big", big)
    get = wrk_script(work / "get.lua", "GET", oci.ACCEPT)
    paths = {
        "manifest hit": "/v2/hub/bench/app/manifests/latest",
        "manifest local": "/v2/local/app/manifests/latest",
        "blob hit": f"/v2/hub/bench/app/blobs/{layer}",
        "blob local": f"/v2/local/app/blobs/{layer}",
    }
    targets: dict[str, Callable[[], Json]] = {
        name: lambda path=path: cpu_per_request(dockyard, dockyard.url + path, get, args.duration)
        for name, path in paths.items()
    }
    rounds: list[Json] = []
    for number in range(args.rounds):
        entry: Json = {name: targets[name]() for name in rotated(list(targets), number)}
        entry["miss"] = miss_round(upstream, floor, dockyard, args.size_mib << 20, number)
        entry["local pull rss_growth_mb"] = local_pull_rss(dockyard, big.digest)
        heads = proxy_metric(dockyard, "dockyard_proxy_upstream_requests_total", upstream="reval", method="HEAD")
        gets = proxy_metric(dockyard, "dockyard_proxy_upstream_requests_total", upstream="reval", method="GET")
        entry["revalidated ms"] = statistics.median(sequential(dockyard, "/v2/reval/bench/app/manifests/latest")) * 1e3
        entry["revalidation upstream HEADs"] = (
            proxy_metric(dockyard, "dockyard_proxy_upstream_requests_total", upstream="reval", method="HEAD") - heads
        ) / SEQUENTIAL
        entry["revalidation upstream GETs"] = (
            proxy_metric(dockyard, "dockyard_proxy_upstream_requests_total", upstream="reval", method="GET") - gets
        ) / SEQUENTIAL
        entry["hit ms"] = statistics.median(sequential(dockyard, "/v2/hub/bench/app/manifests/latest")) * 1e3
        rounds.append(entry)
        print(f"round {number + 1}: {json.dumps(entry)}", flush=True)
    return {"rounds": rounds}


def summarize(data: Json) -> Json:
    rounds = data["rounds"]

    def median(pick: Callable[[Json], float]) -> float:
        return statistics.median(pick(entry) for entry in rounds)

    return {
        "manifest_hit_us": median(lambda e: e["manifest hit"]["us_per_request"]),
        "manifest_local_us": median(lambda e: e["manifest local"]["us_per_request"]),
        "manifest_ratio": median(lambda e: e["manifest hit"]["us_per_request"] / e["manifest local"]["us_per_request"]),
        "blob_hit_us": median(lambda e: e["blob hit"]["us_per_request"]),
        "blob_local_us": median(lambda e: e["blob local"]["us_per_request"]),
        "blob_ratio": median(lambda e: e["blob hit"]["us_per_request"] / e["blob local"]["us_per_request"]),
        "direct_ttfb_ms": median(lambda e: e["miss"]["direct"]["ttfb_s"]) * 1e3,
        "miss_ttfb_ms": median(lambda e: e["miss"]["miss"]["ttfb_s"]) * 1e3,
        "ttfb_ratio": median(lambda e: e["miss"]["miss"]["ttfb_s"] / e["miss"]["direct"]["ttfb_s"]),
        "direct_total_s": median(lambda e: e["miss"]["direct"]["total_s"]),
        "miss_total_s": median(lambda e: e["miss"]["miss"]["total_s"]),
        "total_ratio": median(lambda e: e["miss"]["miss"]["total_s"] / e["miss"]["direct"]["total_s"]),
        "floor_total_s": median(lambda e: e["miss"]["floor"]["total_s"]),
        "floor_ratio": median(lambda e: e["miss"]["floor"]["total_s"] / e["miss"]["direct"]["total_s"]),
        "miss_to_floor": median(lambda e: e["miss"]["miss"]["total_s"] / e["miss"]["floor"]["total_s"]),
        "miss_rss_growth_mb": median(lambda e: e["miss"]["miss"]["rss_growth_mb"] or 0.0),
        "local_rss_growth_mb": median(lambda e: e["local pull rss_growth_mb"] or 0.0),
        "hit_ms": median(lambda e: e["hit ms"]),
        "revalidated_ms": median(lambda e: e["revalidated ms"]),
        "revalidation_extra_ms": median(lambda e: e["revalidated ms"] - e["hit ms"]),
        "heads_per_revalidation": median(lambda e: e["revalidation upstream HEADs"]),
        "gets_per_revalidation": median(lambda e: e["revalidation upstream GETs"]),
    }


def render(summary: Json, args: argparse.Namespace, when: datetime, load: tuple[float, float]) -> str:
    s = summary
    return "\n".join(
        [
            f"# Pull-through cache: hits against local content, a {args.size_mib} MiB miss against a direct GET",
            "",
            f"{when:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}; dockyard 1 worker, SQLite + filesystem, default configuration; upstream "
            f"Distribution 2.8.2 on loopback; {args.rounds} interleaved rounds, medians (ratios taken within each "
            f"round). Machine load (1-minute average) {load[0]:.1f} before, {load[1]:.1f} after.",
            "",
            "| figure | cache | local / direct | ratio | target |",
            "|---|---|---|---|---|",
            f"| server CPU per manifest GET (wrk, {CONNECTIONS} conns) | {s['manifest_hit_us']:.1f} us | "
            f"{s['manifest_local_us']:.1f} us | {s['manifest_ratio']:.2f}x | <= 1.1x |",
            f"| server CPU per {SMALL // 1024} KiB blob GET | {s['blob_hit_us']:.1f} us | "
            f"{s['blob_local_us']:.1f} us | {s['blob_ratio']:.2f}x | <= 1.1x |",
            f"| {args.size_mib} MiB miss: time to first byte (curl) | {s['miss_ttfb_ms']:.1f} ms | "
            f"{s['direct_ttfb_ms']:.1f} ms | {s['ttfb_ratio']:.2f}x | <= 1.2x |",
            f"| {args.size_mib} MiB miss: total (curl) | {s['miss_total_s']:.3f} s | {s['direct_total_s']:.3f} s | "
            f"{s['total_ratio']:.2f}x | <= 1.2x |",
            f"| {args.size_mib} MiB: the miss floor's total (curl) | {s['floor_total_s']:.3f} s | "
            f"{s['direct_total_s']:.3f} s | {s['floor_ratio']:.2f}x | |",
            f"| {args.size_mib} MiB miss: total against the miss floor's | {s['miss_total_s']:.3f} s | "
            f"{s['floor_total_s']:.3f} s | {s['miss_to_floor']:.2f}x | |",
            f"| server RSS growth: miss against a local GET of as many bytes | {s['miss_rss_growth_mb']:.1f} MB | "
            f"{s['local_rss_growth_mb']:.1f} MB | | flat |",
            f"| tag GET after its TTL against a hit (one connection) | {s['revalidated_ms']:.2f} ms | "
            f"{s['hit_ms']:.2f} ms | +{s['revalidation_extra_ms']:.2f} ms | <= +2 ms |",
            f"| upstream requests per revalidation | {s['heads_per_revalidation']:.2f} HEAD, "
            f"{s['gets_per_revalidation']:.2f} GET | | | 1 HEAD, 0 GET |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each wrk load")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    when = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as work:
        data = run(args, Path(work))
    summary = summarize(data)
    report = render(summary, args, when, (load_before, os.getloadavg()[0]))
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{when:%Y-%m-%d-%H%M}-proxy"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps({"summary": summary, **data}, indent=2) + "\n")


if __name__ == "__main__":
    main()
