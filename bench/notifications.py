"""What notifications cost the manifest GET hot path.

Three dockyards side by side, each with one worker: without notifications; with an endpoint
subscribed to pushes only (the pull path must be untouched); with an endpoint subscribed to pulls
(each GET records an event, stored and delivered in batches) whose receiver answers 200 at once,
and the same while the receiver hangs every request until its timeout. wrk GETs the manifest on
64 connections; server CPU per request is read from /proc.

    .venv/bin/python -m bench.notifications [--duration 10] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import oci
from bench.http import Conn
from bench.procs import Registry, free_port, start_dockyard
from bench.workloads import Seeded, Sizes, manifest_get

_hang = threading.Event()


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if _hang.is_set():
            time.sleep(3600)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _start_sink() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/events"


def _dockyard(name: str, work: Path, endpoints: list[dict[str, Any]]) -> Registry:
    os.environ["DOCKYARD_NOTIFICATIONS__ENDPOINTS"] = json.dumps(endpoints)
    try:
        return start_dockyard(name, work / name, workers=1)
    finally:
        del os.environ["DOCKYARD_NOTIFICATIONS__ENDPOINTS"]


def _seed(reg: Registry) -> Seeded:
    seeded = Seeded()
    layer, config = oci.Blob.of(b"bench layer " + os.urandom(1024)), oci.config_blob("bench")
    host, port = reg.host_port
    with Conn(host, port, timeout=60) as conn:
        oci.ensure_blob(conn, seeded.manifest_repo, config)
        oci.ensure_blob(conn, seeded.manifest_repo, layer)
        oci.put_manifest(conn, seeded.manifest_repo, seeded.manifest_tag, oci.image_manifest(config, [layer]))
    return seeded


def _row(label: str, figures: dict[str, Any]) -> str:
    return (
        f"| {label} | {figures['rps']:.0f} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} "
        f"| {figures.get('server_cpu_us_per_req', float('nan')):.1f} | {figures['errors']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sizes = Sizes(duration=args.duration)
    sink = _start_sink()
    endpoint = {"name": "bench", "url": sink, "timeout": 2, "max_retries": 3}
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-events-") as tmp:
        work = Path(tmp)
        registries = [
            ("no endpoint", _dockyard("plain", work, [])),
            ("push endpoint", _dockyard("push", work, [{**endpoint, "events": ["push"]}])),
            ("pull endpoint", _dockyard("pull", work, [{**endpoint, "events": ["pull"]}])),
        ]
        try:
            seeded = {id(reg): _seed(reg) for _, reg in registries}
            print("| dockyard | req/s | p50 ms | p99 ms | server CPU us/req | errors |")
            print("| --- | --- | --- | --- | --- | --- |")
            for _ in range(args.rounds):
                for label, reg in registries:
                    print(_row(label, manifest_get(reg, seeded[id(reg)], sizes, work)), flush=True)
                _hang.set()
                label, reg = registries[-1]
                print(_row(label + ", receiver hanging", manifest_get(reg, seeded[id(reg)], sizes, work)), flush=True)
                _hang.clear()
        finally:
            _hang.clear()
            for _, reg in registries:
                reg.stop()


if __name__ == "__main__":
    main()
