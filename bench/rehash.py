"""What a chunked upload costs when its chunks land on different dockyard instances.

    python -m bench.rehash [--size-mib 256] [--chunk-mib 8]

Two instances share one metadata store and data directory. The same upload (POST, PATCH chunks,
empty PUT ?digest=) runs with every request on one instance, then with each request on the other
instance than the previous one. An instance keeps a running hash only of the bytes it received
itself, so in the second case the completing instance re-reads and hashes the whole upload; the
figures are the completing PUT's wall time and the server CPU of both instances over the upload.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import oci
from bench.http import Conn
from bench.procs import Registry, start_dockyard

MIB = 1 << 20


def upload(instances: list[Registry], data: bytes, chunk: int, alternate: bool) -> dict[str, float]:
    conns = [Conn(*reg.host_port) for reg in instances]
    turn = 0
    cpu_before = sum(reg.cpu() or 0.0 for reg in instances)
    started = time.perf_counter()
    location = oci.start_upload(conns[0], "bench/rehash")
    for start in range(0, len(data), chunk):
        turn = (turn + 1) % len(conns) if alternate else 0
        part = memoryview(data)[start : start + chunk]
        headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(part) - 1}"}
        response = conns[turn].request("PATCH", location, headers, part)
        assert response.status == 202, response.status
        location = oci._location_path(response.header("location"))
    turn = (turn + 1) % len(conns) if alternate else 0
    put_started = time.perf_counter()
    response = conns[turn].request("PUT", oci._with_param(location, f"digest={oci.sha256_digest(data)}"))
    assert response.status == 201, response.status
    finished = time.perf_counter()
    for conn in conns:
        conn.close()
    return {
        "total_s": finished - started,
        "final_put_s": finished - put_started,
        "server_cpu_s": sum(reg.cpu() or 0.0 for reg in instances) - cpu_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rehash", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--chunk-mib", type=int, default=8)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dockyard-rehash-"))
    instances = [start_dockyard(f"instance-{n}", work, 1) for n in range(2)]
    try:
        for alternate in (False, True):
            data = os.urandom(args.size_mib * MIB)  # a new blob each time: nothing deduplicated
            os.sync()
            figures = upload(instances, data, args.chunk_mib * MIB, alternate)
            where = "each request on another instance" if alternate else "every request on one instance"
            print(
                f"{args.size_mib} MiB in {args.chunk_mib} MiB chunks, {where}: total {figures['total_s']:.2f} s, "
                f"final PUT {figures['final_put_s']:.2f} s, server CPU {figures['server_cpu_s']:.2f} s"
            )
    finally:
        for reg in instances:
            reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
