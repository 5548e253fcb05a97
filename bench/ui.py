"""How fast the web UI's first pages are on a large registry: 10,000 repositories, 10,000 tags.

    .venv/bin/python -m bench.ui                    # seeds a fresh dockyard, then measures
    .venv/bin/python -m bench.ui --repositories 2000 --tags 2000 --rounds 5
    .venv/bin/python -m bench.ui --database-url postgresql://USER:PASSWORD@127.0.0.1:5432/EMPTY_DB

Each query is asked `--rounds` times over one keep-alive connection. Two figures per query: the
server's own time from its access log (request in to response out) and the loopback round trip
seen by the client; the median and the worst of the rounds are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.http import Conn
from bench.oci import Blob, config_blob, ensure_blob, image_manifest, put_manifest
from bench.procs import Registry, start_dockyard

_TAGS_PER_REQUEST = 200
# `"GET /path" 200 [bytes] 1.234ms`; the access log shows no query strings, so its lines are
# matched to the requests by their order (all go over one connection, one after another).
_ACCESS = re.compile(r'"GET (\S+)" (\d{3}) (?:\d+ )?([\d.]+)ms')


def _seed(conn: Conn, repositories: int, tags: int) -> None:
    layer = Blob.of(b"bench layer" * 100)
    config = config_blob("ui")
    manifest = image_manifest(config, [layer])
    for number in range(repositories):
        repo = f"bench/repo-{number:05d}"
        # Mounted from the first repository: one link per blob, no bytes moved.
        ensure_blob(conn, repo, config, "bench/repo-00000" if number else None)
        ensure_blob(conn, repo, layer, "bench/repo-00000" if number else None)
        put_manifest(conn, repo, "latest", manifest)
    digest = put_manifest(conn, "bench/many-tags", "seed", _mount_all(conn, "bench/many-tags", config, layer, manifest))
    names = [f"build-{number:05d}" for number in range(tags)]
    for start in range(0, len(names), _TAGS_PER_REQUEST):
        query = "&".join(f"tag={name}" for name in names[start : start + _TAGS_PER_REQUEST])
        response = conn.request(
            "PUT",
            f"/v2/bench/many-tags/manifests/{digest}?{query}",
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            manifest,
        )
        if response.status != 201:
            raise RuntimeError(f"tagging failed: {response.status} {response.body[:200]!r}")


def _mount_all(conn: Conn, repo: str, config: Blob, layer: Blob, manifest: bytes) -> bytes:
    ensure_blob(conn, repo, config, "bench/repo-00000")
    ensure_blob(conn, repo, layer, "bench/repo-00000")
    return manifest


QUERIES = {
    "repositories, first page by name": "/v2/_dockyard/repositories?n=50",
    "repositories, first page by last push": "/v2/_dockyard/repositories?n=50&sort=pushed",
    "repositories, search 'repo-09'": "/v2/_dockyard/repositories?n=50&q=repo-09",
    "repositories, page 100": "/v2/_dockyard/repositories?n=50&offset=4950",
    "tags, first page by name": "/v2/_dockyard/repositories/bench/many-tags/-/tags?n=50",
    "tags, first page by push time": "/v2/_dockyard/repositories/bench/many-tags/-/tags?n=50&sort=pushed",
    "tags, search 'build-099'": "/v2/_dockyard/repositories/bench/many-tags/-/tags?n=50&q=build-099",
    "manifest that every tag points at": "/v2/_dockyard/repositories/bench/many-tags/-/manifests/seed",
}


def _server_times(registry: Registry) -> Iterator[float]:
    """The server's time of each UI API request, in milliseconds, in the order they came."""
    assert registry.log_path is not None
    for line in registry.log_path.read_text(errors="replace").splitlines():
        found = _ACCESS.search(line)
        if found and found.group(1).startswith("/v2/_dockyard/"):
            yield float(found.group(3))


def measure(registry: Registry, rounds: int) -> dict[str, dict[str, float]]:
    host, port = registry.host_port
    client: dict[str, list[float]] = {}
    issued: list[str] = []
    with Conn(host, port) as conn:
        for _ in range(rounds):
            for name, path in QUERIES.items():
                issued.append(name)
                started = time.perf_counter()
                response = conn.request("GET", path)
                client.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status} {response.body[:200]!r}")
    time.sleep(0.5)  # the access log is written off the request path
    server: dict[str, list[float]] = {}
    for name, ms in zip(issued, _server_times(registry), strict=False):
        server.setdefault(name, []).append(ms)
    return {
        name: {
            "server_median_ms": statistics.median(server[name]) if server.get(name) else float("nan"),
            "server_max_ms": max(server[name]) if server.get(name) else float("nan"),
            "client_median_ms": statistics.median(times),
            "client_max_ms": max(times),
        }
        for name, times in client.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", help="keep the metadata in this (empty) PostgreSQL database, not SQLite")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DOCKYARD_DATABASE__URL"] = args.database_url  # the server started below inherits it
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-ui-") as work:
        registry = start_dockyard("dockyard", Path(work), workers=1, access_log=True)
        try:
            host, port = registry.host_port
            started = time.perf_counter()
            with Conn(host, port) as conn:
                _seed(conn, args.repositories, args.tags)
            print(
                f"seeded {args.repositories} repositories and {args.tags} tags in {time.perf_counter() - started:.0f} s"
            )
            results = measure(registry, args.rounds)
        finally:
            registry.stop()
    print(
        f"| query ({args.rounds} rounds) | server median ms | server max ms | round trip median ms | round trip max |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, figures in results.items():
        print(
            f"| {name} | {figures['server_median_ms']:.1f} | {figures['server_max_ms']:.1f} "
            f"| {figures['client_median_ms']:.1f} | {figures['client_max_ms']:.1f} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
