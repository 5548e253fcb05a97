"""Which async HTTP client should dockyard use to talk to other registries? Stream one big blob from
Distribution 2.8.2 on loopback with each candidate and compare it with a direct GET (curl).

    .venv/bin/python -m bench.remote_client [--size-mib 256] [--rounds 5]

Every variant downloads the same blob in each round (the order rotated from round to round) and either
drops the bytes or hashes them with sha256 as a pull-through cache must. Figures: time to first body byte,
total time, MB/s (10^6 bytes), and the client's CPU seconds per GB (process time; curl's from rusage).
Results go to bench/results/<date>-remote-client.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import uvloop

from bench.http import Conn
from bench.oci import Blob, push_blob_monolithic
from bench.procs import start_distribution
from dockyard.remote import RemoteClient, RemoteSettings

CHUNK = 1 << 20
REPO = "bench/remote"


@dataclass
class Sample:
    variant: str
    ttfb: float
    total: float
    nbytes: int
    cpu: float

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.total / 1e6


class Sink:
    """Counts (and optionally hashes) the bytes, and notes when the first and the last one arrived."""

    def __init__(self, hashing: bool) -> None:
        self.hasher = hashlib.sha256() if hashing else None
        self.nbytes = 0
        self.first: float | None = None
        self.last = 0.0
        self.start = 0.0
        self.cpu_start = 0.0

    def begin(self) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def feed(self, chunk: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.nbytes += len(chunk)
        if self.hasher is not None:
            self.hasher.update(chunk)
        self.last = time.perf_counter()


async def with_httpx(base: str, url: str, sink: Sink) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
        (await client.get(base + "/v2/")).raise_for_status()  # a pooled client: the connection is warm
        sink.begin()
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                sink.feed(chunk)


async def with_aiohttp(base: str, url: str, sink: Sink, any_size: bool = False) -> None:
    timeout = aiohttp.ClientTimeout(sock_connect=5.0, sock_read=30.0)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        async with session.get(base + "/v2/") as response:
            response.raise_for_status()
            await response.read()
        sink.begin()
        async with session.get(url) as response:
            response.raise_for_status()
            chunks = response.content.iter_any() if any_size else response.content.iter_chunked(CHUNK)
            async for chunk in chunks:
                sink.feed(chunk)


async def with_aiohttp_any(base: str, url: str, sink: Sink) -> None:
    """iter_any: whatever the socket delivered, no re-chunking."""
    await with_aiohttp(base, url, sink, any_size=True)


async def with_remote_client(base: str, url: str, sink: Sink) -> None:
    """dockyard.remote's own get_blob (aiohttp underneath, plus its checks and counters)."""
    repository, digest = url.removeprefix(f"{base}/v2/").split("/blobs/")
    async with RemoteClient(RemoteSettings(base)) as client:
        await client.check()
        sink.begin()
        async with client.get_blob(repository, digest) as stream:
            async for chunk in stream.chunks:
                sink.feed(chunk)


async def with_remote_client_hashing_aside(base: str, url: str, sink: Sink) -> None:
    """get_blob with sha256 overlapped with receiving: 1 MiB batches hashed on a thread (hashlib
    releases the GIL), the next batch received meanwhile."""
    repository, digest = url.removeprefix(f"{base}/v2/").split("/blobs/")
    hasher = hashlib.sha256()
    pending: asyncio.Task[None] | None = None
    batch: list[bytes] = []
    batched = 0
    async with RemoteClient(RemoteSettings(base)) as client:
        await client.check()
        sink.begin()
        async with client.get_blob(repository, digest) as stream:
            async for chunk in stream.chunks:
                sink.feed(chunk)
                batch.append(chunk)
                batched += len(chunk)
                if batched >= CHUNK:
                    if pending is not None:
                        await pending
                    pending = asyncio.create_task(asyncio.to_thread(hasher.update, b"".join(batch)))
                    batch, batched = [], 0
        if pending is not None:
            await pending
        hasher.update(b"".join(batch))
    if f"sha256:{hasher.hexdigest()}" != digest:
        raise RuntimeError("digest mismatch")


Fetch = Callable[[str, str, Sink], Awaitable[None]]
LIBRARIES: dict[str, Fetch] = {
    "httpx": with_httpx,
    "aiohttp": with_aiohttp,
    "aiohttp-any": with_aiohttp_any,
    "dockyard.remote": with_remote_client,
}


def run_async(variant: str, fetch: Fetch, base: str, url: str, loop: str, hashing: bool) -> Sample:
    """Time one GET of the blob on a client whose connection is already open, as a pooled client's is."""
    sink = Sink(hashing)
    runner = uvloop.run if loop == "uvloop" else asyncio.run
    runner(fetch(base, url, sink))
    cpu_end = time.process_time()
    assert sink.first is not None
    return Sample(variant, sink.first - sink.start, sink.last - sink.start, sink.nbytes, cpu_end - sink.cpu_start)


def run_curl(url: str) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{time_starttransfer} %{size_download}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample("curl (direct GET)", float(out[0]), total, int(out[1]), cpu)


def variants(base: str, url: str) -> dict[str, Callable[[], Sample]]:
    table: dict[str, Callable[[], Sample]] = {"curl (direct GET)": lambda: run_curl(url)}
    for library, fetch in LIBRARIES.items():
        for loop in ("asyncio", "uvloop"):
            for hashing in (False, True):
                name = f"{library} {loop}{' +sha256' if hashing else ''}"
                table[name] = lambda n=name, f=fetch, lp=loop, h=hashing: run_async(n, f, base, url, lp, h)
    for loop in ("asyncio", "uvloop"):
        name = f"dockyard.remote {loop} +sha256 on a thread"
        fetch = with_remote_client_hashing_aside
        table[name] = lambda n=name, f=fetch, lp=loop: run_async(n, f, base, url, lp, hashing=False)
    return table


def seed(base: str, size: int) -> str:
    blob = Blob.of(os.urandom(size))
    host, port = base.removeprefix("http://").split(":")
    with Conn(host, int(port)) as conn:
        push_blob_monolithic(conn, REPO, blob)
    return f"{base}/v2/{REPO}/blobs/{blob.digest}"


def summarize(samples: list[Sample]) -> dict[str, dict[str, float]]:
    by_variant: dict[str, list[Sample]] = {}
    for sample in samples:
        by_variant.setdefault(sample.variant, []).append(sample)
    return {
        name: {
            "ttfb_ms": statistics.median(s.ttfb for s in runs) * 1000,
            "total_s": statistics.median(s.total for s in runs),
            "mb_per_s": statistics.median(s.mb_per_s for s in runs),
            "cpu_s_per_gb": statistics.median(s.cpu / (s.nbytes / 1e9) for s in runs),
        }
        for name, runs in by_variant.items()
    }


def render(
    summary: dict[str, dict[str, float]], size_mib: int, rounds: int, when: datetime, load: tuple[float, float]
) -> str:
    direct = summary["curl (direct GET)"]
    lines = [
        f"# Remote client: streaming a {size_mib} MiB blob from Distribution 2.8.2 on loopback",
        "",
        f"{when:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
        f" httpx {httpx.__version__}, aiohttp {aiohttp.__version__}, uvloop {uvloop.__version__}; "
        f"{rounds} interleaved rounds, medians. Ratios are total time over curl's. Machine load (1-minute "
        f"average) {load[0]:.1f} before, {load[1]:.1f} after (2 cores: above 2, other work competed).",
        "",
        "| client | TTFB ms | total s | MB/s | total / direct | client CPU s/GB |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        lines.append(
            f"| {name} | {row['ttfb_ms']:.1f} | {row['total_s']:.3f} | {row['mb_per_s']:.0f} | "
            f"{row['total_s'] / direct['total_s']:.2f}x | {row['cpu_s_per_gb']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    when = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="remote-client-") as work:
        upstream = start_distribution("distribution", Path(work))
        try:
            url = seed(upstream.url, args.size_mib << 20)
            table = variants(upstream.url, url)
            names = list(table)
            samples: list[Sample] = []
            for round_number in range(args.rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    samples.append(table[name]())
                    if samples[-1].nbytes != args.size_mib << 20:
                        raise RuntimeError(f"{name}: {samples[-1].nbytes} bytes")
        finally:
            upstream.stop()
    summary = summarize(samples)
    load = (load_before, os.getloadavg()[0])
    report = render(summary, args.size_mib, args.rounds, when, load)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{when:%Y-%m-%d-%H%M}-remote-client"
    stem.with_suffix(".md").write_text(report)
    raw = {"summary": summary, "samples": [asdict(s) for s in samples], "size_mib": args.size_mib, "load": load}
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
