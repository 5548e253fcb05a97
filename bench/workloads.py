"""The workloads: seeding, and one function per measurement, each returning a flat dict of figures."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import oci
from bench.http import Conn, HttpError
from bench.procs import Registry, reset_peak_rss, run_tool, status_kib

MB = 1_000_000
GB = 1_000_000_000
MiB = 1 << 20

Metrics = dict[str, float | int | str | None]


@dataclass
class Sizes:
    """What a run measures with: the full shapes, or tiny ones for the smoke mode."""

    duration: float = 10.0  # manifest load and mixed load, seconds
    stream_window: float = 6.0  # blob GET measuring window, seconds
    connections: int = 64
    mixed_connections: int = 16
    mixed_downloads: int = 2
    big_blob: int = 512 * MiB
    single_streams: int = 1
    parallel_streams: int = 8
    small_images: int = 256
    small_layer: int = 1 * MiB
    small_clients: int = 16
    tags: int = 10_000
    repos: int = 2_000
    page: int = 100
    latency_iterations: int = 200
    latency_seconds: float = 3.0
    limits_seconds: float = 1.0
    seed_pool: int = 16

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            duration=1.0,
            stream_window=0.7,
            connections=8,
            mixed_connections=4,
            big_blob=4 * MiB,
            parallel_streams=4,
            small_images=16,
            small_layer=64 * 1024,
            small_clients=4,
            tags=300,
            repos=120,
            page=100,
            latency_iterations=10,
            latency_seconds=0.5,
            limits_seconds=0.2,
            seed_pool=8,
        )


@dataclass
class Seeded:
    """What seeding left in one registry, for the workloads to use."""

    manifest_repo: str = "bench/manifest"
    manifest_tag: str = "latest"
    manifest_digest: str = ""
    big_repo: str = "bench/big"
    big_digest: str = ""
    tags_repo: str = "bench/tags"
    catalog_prefix: str = "bench/cat/r"
    catalog_names: list[str] = field(default_factory=list)
    pushed: int = 0


def _conn(reg: Registry, timeout: float = 120.0) -> Conn:
    host, port = reg.host_port
    return Conn(host, port, timeout=timeout)


class BigData:
    """One large random buffer; a fresh blob is made from it by stamping a unique prefix."""

    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)
        view = memoryview(self.buf)
        step = 64 * MiB
        for off in range(0, size, step):
            chunk = os.urandom(min(step, size - off))
            view[off : off + len(chunk)] = chunk

    def blob(self, stamp: str) -> oci.Blob:
        prefix = hashlib.sha256(stamp.encode()).digest()
        self.buf[: len(prefix)] = prefix
        return oci.Blob.of(memoryview(self.buf))


def _pool_map(reg: Registry, n_workers: int, items: list[str], fn: Callable[[Conn, str], None]) -> None:
    """Run fn(conn, item) for every item on n_workers threads, each with its own keep-alive connection."""
    work: queue.SimpleQueue[str] = queue.SimpleQueue()
    for item in items:
        work.put(item)
    errors: list[BaseException] = []

    def worker() -> None:
        with _conn(reg) as conn:
            while not errors:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    fn(conn, item)
                except BaseException as exc:
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, n_workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def seed(reg: Registry, sizes: Sizes, big: BigData, full: bool, log: Callable[[str], None]) -> Seeded:
    """Push what the workloads read. full=False seeds only the manifest and the big blob."""
    s = Seeded()
    t0 = time.monotonic()
    small_layer = oci.Blob.of(b"bench layer " + os.urandom(1024))
    config = oci.config_blob("bench")
    manifest = oci.image_manifest(config, [small_layer])
    with _conn(reg) as conn:
        for repo in (s.manifest_repo, s.tags_repo):
            oci.ensure_blob(conn, repo, config)
            oci.ensure_blob(conn, repo, small_layer)
        s.manifest_digest = oci.put_manifest(conn, s.manifest_repo, s.manifest_tag, manifest)
        blob = big.blob("seed-big-blob")
        oci.push_blob_monolithic(conn, s.big_repo, blob)
        s.big_digest = blob.digest
        oci.ensure_blob(conn, s.big_repo, config)
        oci.put_manifest(conn, s.big_repo, "latest", oci.image_manifest(config, [blob]))
    log(f"  {reg.name}: manifest and {sizes.big_blob / MiB:.0f} MiB blob in {time.monotonic() - t0:.1f}s")
    if not full:
        return s

    t0 = time.monotonic()
    tags = [f"t{i:05d}" for i in range(sizes.tags)]
    _pool_map(reg, sizes.seed_pool, tags, lambda c, tag: oci.put_manifest(c, s.tags_repo, tag, manifest) and None)
    log(f"  {reg.name}: {sizes.tags} tags in {time.monotonic() - t0:.1f}s")

    t0 = time.monotonic()
    repos = [f"{s.catalog_prefix}{i:04d}" for i in range(sizes.repos)]

    def seed_repo(c: Conn, repo: str) -> None:
        oci.ensure_blob(c, repo, config, source=s.manifest_repo)
        oci.ensure_blob(c, repo, small_layer, source=s.manifest_repo)
        oci.put_manifest(c, repo, "v1", manifest)

    _pool_map(reg, sizes.seed_pool, repos, seed_repo)
    log(f"  {reg.name}: {sizes.repos} repositories in {time.monotonic() - t0:.1f}s")
    with _conn(reg) as conn:
        s.catalog_names = catalog_names(conn)
    return s


def catalog_names(conn: Conn) -> list[str]:
    names: list[str] = []
    path: str | None = "/v2/_catalog?n=1000"
    while path is not None and len(names) < 1_000_000:
        resp = conn.request("GET", path)
        if resp.status != 200:
            raise HttpError(f"GET {path}: HTTP {resp.status}")
        names.extend(json.loads(resp.body).get("repositories") or [])
        path = oci.next_link(resp)
    return names


# ---------------------------------------------------------------------------------------------
# load tools


_HEY_PCT = re.compile(r"^\s*(\d+)% in ([\d.]+) secs", re.M)
_HEY_RPS = re.compile(r"Requests/sec:\s*([\d.]+)")
_HEY_STATUS = re.compile(r"^\s*\[(\d+)\]\s+(\d+) responses", re.M)
_HEY_ERRORS = re.compile(r"Error distribution:\s*\n((?:\s*\[\d+\].*\n?)*)")


def wrk_script(path: Path, method: str, accept: str, headers: dict[str, str] | None = None) -> Path:
    extra = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in (headers or {}).items())
    path.write_text(
        f'wrk.method = "{method}"\n'
        f'wrk.headers["Accept"] = "{accept}"\n'
        f"{extra}"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format(\'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,'
        '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
        '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n\',\n'
        "    summary.requests, summary.duration, summary.bytes, summary.errors.connect,\n"
        "    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,\n"
        "    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))\n"
        "end\n"
    )
    return path


def run_wrk(url: str, connections: int, duration: float, script: Path) -> Metrics:
    secs = max(1, round(duration))
    run = run_tool(
        ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "--timeout", "5s", "-s", str(script), url],
        timeout=secs + 30,
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip()[:400]} {run.stdout[-400:]}")
    d = json.loads(line.removeprefix("BENCHJSON "))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    return {
        "requests": d["requests"],
        "rps": d["requests"] / (d["duration_us"] / 1e6),
        "p50_ms": d["p50_us"] / 1000,
        "p90_ms": d["p90_us"] / 1000,
        "p99_ms": d["p99_us"] / 1000,
        "max_ms": d["max_us"] / 1000,
        "errors": errors,
        "non_2xx": d["status"],
        "tool_cpu_s": run.cpu_s,
        "tool": "wrk",
    }


def run_hey(url: str, connections: int, duration: float, method: str, accept: str) -> Metrics:
    secs = max(1, round(duration))
    run = run_tool(
        [
            "hey",
            "-z",
            f"{secs}s",
            "-c",
            str(connections),
            "-m",
            method,
            "-H",
            f"Accept: {accept}",
            "-t",
            "5",
            url,
        ],
        timeout=secs + 30,
    )
    rps = _HEY_RPS.search(run.stdout)
    if run.returncode != 0 or rps is None:
        raise RuntimeError(f"hey failed ({run.returncode}): {run.stderr.strip()[:400]} {run.stdout[-400:]}")
    pct = {int(p): float(v) * 1000 for p, v in _HEY_PCT.findall(run.stdout)}
    statuses = {int(code): int(n) for code, n in _HEY_STATUS.findall(run.stdout)}
    ok = statuses.get(200, 0)
    errs_block = _HEY_ERRORS.search(run.stdout)
    transport_errors = 0
    if errs_block:
        transport_errors = sum(int(m) for m in re.findall(r"\[(\d+)\]", errs_block.group(1)))
    total = sum(statuses.values())
    return {
        "requests": total,
        "rps": float(rps.group(1)),
        "p50_ms": pct.get(50),
        "p90_ms": pct.get(90),
        "p99_ms": pct.get(99),
        "errors": total - ok + transport_errors,
        "non_2xx": total - ok,
        "tool_cpu_s": run.cpu_s,
        "tool": "hey",
    }


def _with_server_cpu(reg: Registry, fn: Callable[[], Metrics], count_key: str) -> Metrics:
    before = reg.cpu()
    out = fn()
    after = reg.cpu()
    if before is not None and after is not None:
        used = after - before
        out["server_cpu_s"] = used
        count = out.get(count_key)
        if isinstance(count, int | float) and count:
            out["server_cpu_us_per_req"] = used / count * 1e6
    return out


def manifest_get(reg: Registry, s: Seeded, sizes: Sizes, work: Path) -> Metrics:
    script = wrk_script(work / "get.lua", "GET", oci.ACCEPT)
    url = f"{reg.url}/v2/{s.manifest_repo}/manifests/{s.manifest_tag}"
    return _with_server_cpu(reg, lambda: run_wrk(url, sizes.connections, sizes.duration, script), "requests")


def manifest_head(reg: Registry, s: Seeded, sizes: Sizes, work: Path, tool: str = "ab") -> Metrics:
    url = f"{reg.url}/v2/{s.manifest_repo}/manifests/{s.manifest_digest}"
    if tool == "hey":
        return _with_server_cpu(
            reg, lambda: run_hey(url, sizes.connections, sizes.duration, "HEAD", oci.ACCEPT), "requests"
        )
    return _with_server_cpu(
        reg, lambda: run_ab_head(url, sizes.connections, sizes.duration, oci.ACCEPT, work), "requests"
    )


_AB_FIELD = re.compile(
    r"^(Complete requests|Failed requests|Non-2xx responses|Keep-Alive requests|Time taken for tests):"
    r"\s+([\d.]+)",
    re.M,
)


def run_ab_head(url: str, connections: int, duration: float, accept: str, work: Path) -> Metrics:
    """HEAD load with ApacheBench: one thread like wrk, keep-alive (HTTP/1.0 style), percentiles from -e."""
    secs = max(1, round(duration))
    csv = work / "ab-percentiles.csv"
    csv.unlink(missing_ok=True)
    cmd = ["ab", "-i", "-k", "-q", "-r", "-c", str(connections), "-t", str(secs), "-n", "100000000",
           "-s", "5", "-e", str(csv), "-H", f"Accept: {accept}", url]  # fmt: skip
    run = run_tool(cmd, timeout=secs + 30)
    fields = {k.strip(): float(v) for k, v in _AB_FIELD.findall(run.stdout)}
    if run.returncode != 0 or "Complete requests" not in fields or not csv.exists():
        raise RuntimeError(f"ab failed ({run.returncode}): {run.stderr.strip()[:400]} {run.stdout[-400:]}")
    pct: dict[int, float] = {}
    for line in csv.read_text().splitlines()[1:]:
        p, _, ms = line.partition(",")
        pct[int(p)] = float(ms)
    complete = int(fields["Complete requests"])
    failed = int(fields.get("Failed requests", 0))
    non_2xx = int(fields.get("Non-2xx responses", 0))
    keepalive = int(fields.get("Keep-Alive requests", 0))
    return {
        "requests": complete - failed - non_2xx,
        "rps": (complete - failed - non_2xx) / fields["Time taken for tests"],
        "p50_ms": pct.get(50),
        "p90_ms": pct.get(90),
        "p99_ms": pct.get(99),
        "max_ms": pct.get(100),
        "errors": failed + non_2xx,
        "non_2xx": non_2xx,
        "keepalive_fraction": keepalive / complete if complete else 0.0,
        "tool_cpu_s": run.cpu_s,
        "tool": "ab",
    }


# ---------------------------------------------------------------------------------------------
# blob streams


class Streams:
    """n threads each downloading the same blob over and over until stopped; bytes counted live."""

    def __init__(self, reg: Registry, repo: str, digest: str, n: int) -> None:
        self.reg = reg
        self.repo = repo
        self.digest = digest
        self.stop = threading.Event()
        self.conns = [_conn(reg) for _ in range(n)]
        self.completed = 0
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._loop, args=(c,), daemon=True) for c in self.conns]

    def _loop(self, conn: Conn) -> None:
        try:
            while not self.stop.is_set():
                oci.get_blob(conn, self.repo, self.digest, sink=True)
                self.completed += 1
        except (OSError, HttpError) as exc:
            self.errors.append(str(exc))
        finally:
            conn.close()

    def received(self) -> int:
        return sum(c.received for c in self.conns)

    def __enter__(self) -> Streams:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(120)


def _client_cpu() -> float:
    t = os.times()
    return t.user + t.system


def blob_get(reg: Registry, s: Seeded, sizes: Sizes, streams: int) -> Metrics:
    with Streams(reg, s.big_repo, s.big_digest, streams) as st:
        time.sleep(min(0.5, sizes.stream_window / 4))  # connections up, first bytes flowing
        b0, c0, k0, t0 = st.received(), reg.cpu(), _client_cpu(), time.monotonic()
        time.sleep(sizes.stream_window)
        b1, c1, k1, t1 = st.received(), reg.cpu(), _client_cpu(), time.monotonic()
    if st.errors:
        raise RuntimeError(f"blob GET: {st.errors[0]}")
    moved = b1 - b0
    out: Metrics = {
        "streams": streams,
        "bytes": moved,
        "mb_s": moved / MB / (t1 - t0),
        "client_cpu_s": k1 - k0,
        "downloads_completed": st.completed,
    }
    if c0 is not None and c1 is not None and moved:
        out["server_cpu_s_per_gb"] = (c1 - c0) / (moved / GB)
    if moved == 0:
        raise RuntimeError("blob GET moved no bytes")
    return out


# ---------------------------------------------------------------------------------------------
# blob push


def flush_page_cache_writeback() -> float:
    """Write back all dirty pages before a push is timed, so a push does not pay for the previous
    one's (a registry that does not fsync leaves hundreds of MB dirty for the next to wait behind).
    Returns the seconds it took."""
    t0 = time.monotonic()
    os.sync()
    return time.monotonic() - t0


class RssWatch:
    """Peak resident memory of the server's process tree during an operation.

    Resets VmHWM first (clear_refs) where permitted, and also samples VmRSS every 20 ms."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.stop = threading.Event()
        self.sampled_peak = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.baseline = 0
        self.reset_ok = False
        self.pids: list[int] = []

    def _loop(self) -> None:
        # the process tree is walked once (a walk reads all of /proc); a push does not fork
        while not self.stop.wait(0.02):
            self.sampled_peak = max(self.sampled_peak, sum(status_kib(p, "VmRSS") for p in self.pids))

    def __enter__(self) -> RssWatch:
        pids = self.pids = self.reg.pids()
        if pids:
            self.reset_ok = reset_peak_rss(pids)
            self.baseline = sum(status_kib(p, "VmRSS") for p in pids)
            self.sampled_peak = self.baseline
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def growth_mb(self) -> float | None:
        pids = self.pids
        if not pids:
            return None
        peak = self.sampled_peak
        if self.reset_ok:
            peak = max(peak, sum(status_kib(p, "VmHWM") for p in pids))
        return (peak - self.baseline) * 1024 / MB

    def peak_mb(self) -> float | None:
        growth = self.growth_mb()
        return None if growth is None else growth + self.baseline * 1024 / MB


def blob_push(reg: Registry, big: BigData, stamp: str, mode: str) -> Metrics:
    blob = big.blob(stamp)
    repo = "bench/push"
    push = oci.push_blob_monolithic if mode == "monolithic" else oci.push_blob_patch
    with _conn(reg, timeout=600) as conn:
        conn.request("GET", "/v2/")
        synced = flush_page_cache_writeback()
        with RssWatch(reg) as rss:
            c0, t0 = reg.cpu(), time.monotonic()
            push(conn, repo, blob)
            t1, c1 = time.monotonic(), reg.cpu()
        growth = rss.growth_mb()
        peak = rss.peak_mb()
        # the blob is not needed any more; registries that support it drop the repository link
        conn.request("DELETE", f"/v2/{repo}/blobs/{blob.digest}")
    out: Metrics = {
        "mode": mode,
        "bytes": blob.size,
        "seconds": t1 - t0,
        "mb_s": blob.size / MB / (t1 - t0),
        "peak_rss_growth_mb": growth,
        "peak_rss_mb": peak,
        "presync_s": synced,
    }
    if c0 is not None and c1 is not None:
        out["server_cpu_s_per_gb"] = (c1 - c0) / (blob.size / GB)
    return out


# ---------------------------------------------------------------------------------------------
# many small images


@dataclass
class SmallImage:
    repo: str
    tag: str
    config: oci.Blob
    layer: oci.Blob
    manifest: bytes


def make_small_images(sizes: Sizes, stamp: str, base: bytes) -> list[SmallImage]:
    images = []
    for i in range(sizes.small_images):
        head = hashlib.sha256(f"{stamp}-{i}".encode()).digest()
        layer = oci.Blob.of(head + base[len(head) :])
        config = oci.config_blob(f"{stamp}-{i}")
        repo = f"bench/small/c{i % sizes.small_clients:02d}"
        images.append(SmallImage(repo, f"{stamp}-{i}", config, layer, oci.image_manifest(config, [layer])))
    return images


def _run_clients(
    reg: Registry,
    clients: int,
    images: list[SmallImage],
    fn: Callable[[Conn, SmallImage], None],
    deadline_s: float,
) -> tuple[int, float]:
    work: queue.SimpleQueue[SmallImage] = queue.SimpleQueue()
    for img in images:
        work.put(img)
    done = [0]
    errors: list[BaseException] = []
    lock = threading.Lock()
    deadline = time.monotonic() + deadline_s

    def client() -> None:
        with _conn(reg) as conn:
            while not errors and time.monotonic() < deadline:
                try:
                    img = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    fn(conn, img)
                except BaseException as exc:
                    errors.append(exc)
                    return
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"small images: {errors[0]}")
    return done[0], elapsed


def push_image(conn: Conn, img: SmallImage) -> None:
    for blob in (img.config, img.layer):
        if not oci.blob_exists(conn, img.repo, blob.digest):
            oci.push_blob_monolithic(conn, img.repo, blob)
    oci.put_manifest(conn, img.repo, img.tag, img.manifest)


def pull_image(conn: Conn, img: SmallImage) -> None:
    resp = oci.get_manifest(conn, img.repo, img.tag)
    doc = json.loads(resp.body)
    oci.get_blob(conn, img.repo, doc["config"]["digest"], sink=False)
    for layer in doc["layers"]:
        got = oci.get_blob(conn, img.repo, layer["digest"], sink=True)
        if got.nbytes != layer["size"]:
            raise HttpError(f"layer {layer['digest']}: {got.nbytes} bytes, expected {layer['size']}")


def small_images(reg: Registry, sizes: Sizes, images: list[SmallImage]) -> tuple[Metrics, Metrics]:
    flush_page_cache_writeback()
    c0 = reg.cpu()
    pushed, t_push = _run_clients(reg, sizes.small_clients, images, push_image, 120)
    c1 = reg.cpu()
    pulled, t_pull = _run_clients(reg, sizes.small_clients, images[:pushed], pull_image, 120)
    c2 = reg.cpu()
    push: Metrics = {
        "images": pushed,
        "seconds": t_push,
        "images_s": pushed / t_push,
        "mb_s": pushed * sizes.small_layer / MB / t_push,
    }
    pull: Metrics = {
        "images": pulled,
        "seconds": t_pull,
        "images_s": pulled / t_pull,
        "mb_s": pulled * sizes.small_layer / MB / t_pull,
    }
    if c0 is not None and c1 is not None and c2 is not None:
        push["server_cpu_ms_per_image"] = (c1 - c0) / max(pushed, 1) * 1000
        pull["server_cpu_ms_per_image"] = (c2 - c1) / max(pulled, 1) * 1000
    if pushed < len(images):
        raise RuntimeError(f"small image push: only {pushed} of {len(images)} within the time bound")
    return push, pull


# ---------------------------------------------------------------------------------------------
# mixed


def mixed(reg: Registry, s: Seeded, sizes: Sizes, work: Path) -> Metrics:
    script = wrk_script(work / "get.lua", "GET", oci.ACCEPT)
    url = f"{reg.url}/v2/{s.manifest_repo}/manifests/{s.manifest_tag}"
    with Streams(reg, s.big_repo, s.big_digest, sizes.mixed_downloads) as st:
        time.sleep(0.3)
        b0, c0, t0 = st.received(), reg.cpu(), time.monotonic()
        res = run_wrk(url, sizes.mixed_connections, sizes.duration, script)
        b1, c1, t1 = st.received(), reg.cpu(), time.monotonic()
    if st.errors:
        raise RuntimeError(f"mixed downloads: {st.errors[0]}")
    out: Metrics = {
        "manifest_rps": res["rps"],
        "manifest_p50_ms": res["p50_ms"],
        "manifest_p99_ms": res["p99_ms"],
        "manifest_errors": res["errors"],
        "download_mb_s": (b1 - b0) / MB / (t1 - t0),
        "tool_cpu_s": res["tool_cpu_s"],
    }
    if c0 is not None and c1 is not None:
        out["server_cpu_cores"] = (c1 - c0) / (t1 - t0)
    return out


# ---------------------------------------------------------------------------------------------
# listing latency


def _latency(sizes: Sizes, op: Callable[[], int]) -> Metrics:
    samples: list[float] = []
    items = 0
    stop_at = time.monotonic() + sizes.latency_seconds
    op()  # warm: connection, caches
    while len(samples) < sizes.latency_iterations and (len(samples) < 3 or time.monotonic() < stop_at):
        t0 = time.perf_counter()
        items = op()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": p99 * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
        "samples": len(samples),
        "items": items,
    }


def _get_items(conn: Conn, path: str, key: str) -> int:
    resp = conn.request("GET", path)
    if resp.status != 200:
        raise HttpError(f"GET {path}: HTTP {resp.status}")
    return len(json.loads(resp.body).get(key) or [])


def listing(reg: Registry, s: Seeded, sizes: Sizes) -> dict[str, Metrics]:
    out: dict[str, Metrics] = {}
    n = sizes.page
    tags = f"/v2/{s.tags_repo}/tags/list"
    middle = f"t{sizes.tags // 2:05d}"
    names = s.catalog_names
    last_page_after = names[-n - 1] if len(names) > n else ""
    with _conn(reg) as conn:
        out["tags_page"] = _latency(sizes, lambda: _get_items(conn, f"{tags}?n={n}", "tags"))
        out["tags_page_after_last"] = _latency(sizes, lambda: _get_items(conn, f"{tags}?n={n}&last={middle}", "tags"))
        out["tags_all"] = _latency(sizes, lambda: oci.list_paged(conn, tags, "tags")[0])
        out["catalog_page"] = _latency(sizes, lambda: _get_items(conn, f"/v2/_catalog?n={n}", "repositories"))
        out["catalog_last_page"] = _latency(
            sizes,
            lambda: _get_items(conn, f"/v2/_catalog?n={n}&last={last_page_after}", "repositories"),
        )
        out["catalog_all_pages"] = _latency(
            sizes, lambda: oci.list_paged(conn, f"/v2/_catalog?n={n}", "repositories")[0]
        )
        # how many requests a whole listing takes (registries page differently)
        out["tags_all"]["requests"] = oci.list_paged(conn, tags, "tags")[1]
        _, pages = oci.list_paged(conn, f"/v2/_catalog?n={n}", "repositories")
        out["catalog_all_pages"]["requests"] = pages
    return out


# ---------------------------------------------------------------------------------------------
# physical limits


def sha256_mb_s(seconds: float) -> float:
    buf = os.urandom(16 * MiB)
    done = 0
    t0 = time.perf_counter()
    while True:
        hashlib.sha256(buf).digest()
        done += len(buf)
        if time.perf_counter() - t0 >= seconds:
            break
    return done / MB / (time.perf_counter() - t0)


def loopback_mb_s(seconds: float) -> float:
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        received = [0]

        def sink() -> None:
            conn, _ = lsock.accept()
            with conn:
                buf = bytearray(MiB)
                view = memoryview(buf)
                while True:
                    n = conn.recv_into(view)
                    if not n:
                        return
                    received[0] += n

        t = threading.Thread(target=sink, daemon=True)
        t.start()
        payload = memoryview(os.urandom(MiB))
        with socket.create_connection(("127.0.0.1", port)) as out:
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                for _ in range(16):
                    out.sendall(payload)
            out.shutdown(socket.SHUT_WR)
            t.join(30)
            elapsed = time.perf_counter() - t0
    return received[0] / MB / elapsed


def limits(sizes: Sizes) -> Metrics:
    return {
        "sha256_mb_s_one_core": sha256_mb_s(sizes.limits_seconds),
        "loopback_tcp_mb_s": loopback_mb_s(sizes.limits_seconds),
    }
