"""Manifest GET latency while garbage collection deletes many blobs, against the same server idle.

    .venv/bin/python -m bench.gc [--blobs 10000] [--seconds 5]

Starts one dockyard (its workers idle: the default review delay), pushes a tagged image and `--blobs`
unreferenced blobs, measures manifest GET latency by tag from two client threads for `--seconds`
idle, then again while `dockyard gc --now` collects every blob; prints p50/p99 of both and the
reviews per second of the one collector process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.http import Conn
from bench.procs import start_dockyard

_ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_blob(conn: Conn, repository: str, data: bytes) -> None:
    response = conn.request("POST", f"/v2/{repository}/blobs/uploads/?digest={_digest(data)}", body=data)
    assert response.status == 201, response.status


def _seed(port: int, blobs: int) -> None:
    with Conn("127.0.0.1", port) as conn:
        config, layer = b'{"architecture":"amd64","os":"linux"}', b"the one layer" * 100
        for data in (config, layer):
            _push_blob(conn, "bench/app", data)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer),
                            "size": len(layer)}],
            }
        ).encode()  # fmt: skip
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        assert conn.request("PUT", "/v2/bench/app/manifests/latest", headers, manifest).status == 201

    def push_range(start: int) -> None:
        with Conn("127.0.0.1", port) as conn:
            for number in range(start, min(start + 500, blobs)):
                _push_blob(conn, "bench/garbage", f"garbage blob {number}".encode())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(push_range, range(0, blobs, 500)))


def _latencies(port: int, until: threading.Event | float) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with Conn("127.0.0.1", port) as conn:
            while not (until.is_set() if isinstance(until, threading.Event) else time.monotonic() > until):
                started = time.perf_counter()
                assert conn.request("GET", "/v2/bench/app/manifests/latest", _ACCEPT).status == 200
                with lock:
                    samples.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def _summary(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms over {len(samples)} GETs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-gc-") as root:
        server = start_dockyard("dockyard", Path(root), workers=1)
        assert server.data_dir is not None
        port = server.host_port[1]
        try:
            _seed(port, args.blobs)
            idle = _latencies(port, time.monotonic() + args.seconds)
            done = threading.Event()
            started = time.monotonic()
            collector = subprocess.Popen(
                [sys.executable, "-m", "dockyard", "gc", "--now", "--data-dir", str(server.data_dir)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            threading.Thread(target=lambda: (collector.wait(), done.set())).start()
            during = _latencies(port, done)
            elapsed = time.monotonic() - started
            output = collector.stdout.read() if collector.stdout else ""
        finally:
            server.stop()
    print(f"manifest GET idle:       {_summary(idle)}")
    print(f"manifest GET during GC:  {_summary(during)}")
    print(f"dockyard gc --now: {output.strip().splitlines()[-1]} in {elapsed:.1f} s "
          f"({args.blobs / elapsed:.0f} blob reviews/s, process start and byte deletions included)")  # fmt: skip


if __name__ == "__main__":
    main()
