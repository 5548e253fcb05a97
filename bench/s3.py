"""S3 blob store benchmark: dockyard in front of an S3 gateway against the same gateway directly.

    .venv/bin/python -m bench.s3 --endpoint http://127.0.0.1:7480 --access-key KEY --secret-key SECRET
    .venv/bin/python -m bench.s3 --start-ceph          # a throwaway Ceph RGW (tests/support/ceph.py)

Workloads, in interleaved rounds (dockyard first in odd rounds, direct first in even ones):
- push: one blob of --size-mib pushed through dockyard as skopeo does (POST, one streaming PATCH,
  PUT ?digest=), against a direct multipart upload with dockyard's part size and its pipelining
  (one part in flight while the next fills). Server CPU and peak RSS growth of dockyard.
- get: that blob downloaded through dockyard, against a direct GET of a presigned URL (same client).
- redirect: server CPU per blob GET answered with a 307 (redirect mode), against per blob HEAD.
- rehash: what an instance that lacks the running hash pays at the completing PUT of a blob
  pushed in 8 chunks (each on another instance): re-reading and hashing the stored bytes, and the
  server-side composition of the 8 segments; driven through the BlobStore interface.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.session import get_session as get_sync_session

from bench.procs import cpu_seconds, process_tree, reset_peak_rss, start_dockyard, status_kib
from dockyard.blobs.s3 import S3BlobStore
from dockyard.blobs.s3_client import S3Location
from dockyard.blobs.s3_segments import PART_BYTES
from dockyard.core.digest import Digest

MIB = 1 << 20
REPO = "bench/s3"
RESULTS = Path(__file__).parent / "results"


def payload(seed: int, size: int) -> Iterator[bytes]:
    """Distinct bytes per seed without holding them: a seeded 1 MiB block, each copy numbered."""
    block = hashlib.shake_256(str(seed).encode()).digest(MIB)
    for number in range(-(-size // MIB)):
        chunk = number.to_bytes(8, "big") + block[8:]
        yield chunk[: min(MIB, size - number * MIB)]


def payload_digest(seed: int, size: int) -> str:
    hasher = hashlib.sha256()
    for chunk in payload(seed, size):
        hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


class Server:
    def __init__(self, name: str, work: Path, env: dict[str, str]):
        os.environ.update(env)
        self.registry = start_dockyard(name, work / name, workers=1)
        self.url = self.registry.url

    def pids(self) -> list[int]:
        return process_tree(self.registry.root_pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def peak_kib(self) -> int:
        return sum(status_kib(pid, "VmHWM") for pid in self.pids())

    def stop(self) -> None:
        self.registry.proc.terminate()
        self.registry.proc.wait(30)


def push_through(server: Server, seed: int, size: int, digest: str) -> dict[str, float]:
    reset_peak_rss(server.pids())
    before_kib, before_cpu, started = server.peak_kib(), server.cpu(), time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=600) as client:
        location = client.post(f"/v2/{REPO}/blobs/uploads/").headers["location"]
        patched = client.patch(location, content=payload(seed, size), headers={"Content-Length": str(size)})
        done = client.put(patched.headers["location"], params={"digest": digest})
        assert done.status_code == 201, done.text
    seconds = time.perf_counter() - started
    return {
        "mb_s": size / MIB / seconds,
        "server_cpu_s": server.cpu() - before_cpu,
        "rss_growth_mib": (server.peak_kib() - before_kib) / 1024,
    }


async def push_direct(s3: dict[str, str], bucket: str, seed: int, size: int) -> dict[str, float]:
    started = time.perf_counter()
    async with _client(s3) as client:
        key = f"direct/{uuid.uuid4().hex}"
        upload_id = (await client.create_multipart_upload(Bucket=bucket, Key=key))["UploadId"]
        parts: list[dict[str, Any]] = []
        in_flight: asyncio.Task[None] | None = None

        async def send(number: int, body: bytes) -> None:
            answer = await client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        filling, number = bytearray(), 0
        for chunk in payload(seed, size):
            filling += chunk
            if len(filling) >= PART_BYTES or number * PART_BYTES + len(filling) >= size:
                if in_flight is not None:
                    await in_flight
                number += 1
                in_flight = asyncio.ensure_future(send(number, bytes(filling)))
                filling = bytearray()
        if in_flight is not None:
            await in_flight
        parts.sort(key=lambda part: part["PartNumber"])
        await client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    return {"mb_s": size / MIB / (time.perf_counter() - started)}


async def rehash_cost(s3: dict[str, str], bucket: str, seed: int, size: int, chunks: int = 8) -> dict[str, float]:
    location = S3Location(bucket, s3["endpoint"], access_key=s3["access_key"], secret_key=s3["secret_key"])
    store = S3BlobStore(location)
    upload_id = str(uuid.uuid4())
    chunk_size = -(-size // chunks)

    async def piece(start: int) -> Any:
        taken = 0
        for chunk in payload(seed, size):
            if start <= taken < start + chunk_size:
                yield chunk
            taken += len(chunk)

    try:
        await store.start_upload(upload_id)
        started = time.perf_counter()
        for start in range(0, size, chunk_size):
            await store.append_upload(upload_id, start, piece(start), None)
        appended = time.perf_counter()
        hasher = hashlib.sha256()
        async for chunk in store.read_upload(upload_id):
            hasher.update(chunk)
        rehashed = time.perf_counter()
        await store.commit_upload(upload_id, Digest("sha256", hasher.hexdigest()), size)
        committed = time.perf_counter()
    finally:
        await store.close()
    return {
        "append_s": appended - started,
        "rehash_s": rehashed - appended,
        "compose_s": committed - rehashed,
        "rehash_mb_s": size / MIB / (rehashed - appended),
    }


def _client(s3: dict[str, str]) -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=s3["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=s3["access_key"],
        aws_secret_access_key=s3["secret_key"],
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def timed_download(url: str, server: Server | None = None) -> dict[str, float]:
    before_cpu, started, received = server.cpu() if server else 0.0, time.perf_counter(), 0
    with httpx.stream("GET", url, timeout=600) as response:
        assert response.status_code == 200, response.status_code
        for chunk in response.iter_bytes(MIB):
            received += len(chunk)
    result = {"mb_s": received / MIB / (time.perf_counter() - started)}
    if server:
        result["server_cpu_s"] = server.cpu() - before_cpu
    return result


def cpu_per_request(server: Server, method: str, url: str, count: int) -> float:
    with httpx.Client(timeout=30) as client:
        client.request(method, url)  # warm
        before = server.cpu()
        for _ in range(count):
            client.request(method, url)
        return (server.cpu() - before) / count * 1e6


def run(args: argparse.Namespace, s3: dict[str, str], work: Path) -> dict[str, Any]:
    admin = get_sync_session().create_client(
        "s3", endpoint_url=s3["endpoint"], region_name="us-east-1", aws_access_key_id=s3["access_key"],
        aws_secret_access_key=s3["secret_key"], config=Config(s3={"addressing_style": "path"}),
    )  # fmt: skip
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    env = {
        "DOCKYARD_STORAGE__S3__ENDPOINT": s3["endpoint"],
        "DOCKYARD_STORAGE__S3__BUCKET": bucket,
        "DOCKYARD_STORAGE__S3__ACCESS_KEY": s3["access_key"],
        "DOCKYARD_STORAGE__S3__SECRET_KEY": s3["secret_key"],
    }
    relay = Server("relay", work, {**env, "DOCKYARD_STORAGE__S3__REDIRECT": "false"})
    redirect = Server("redirect", work, {**env, "DOCKYARD_STORAGE__S3__REDIRECT": "true"})
    size = args.size_mib * MIB
    results: dict[str, list[dict[str, float]]] = {
        "push_dockyard": [],
        "push_direct": [],
        "get_dockyard": [],
        "get_direct": [],
    }
    try:
        for round_number in range(args.rounds):
            digest = payload_digest(round_number, size)
            sides: list[Server | None] = [relay, None]  # None: directly to S3
            for server in sides if round_number % 2 == 0 else sides[::-1]:
                if server is not None:
                    results["push_dockyard"].append(push_through(server, round_number, size, digest))
                else:
                    results["push_direct"].append(asyncio.run(push_direct(s3, bucket, 100 + round_number, size)))
            key = f"blobs/sha256/{digest.split(':')[1]}"
            presigned = admin.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600
            )
            for side in ("dockyard", "direct") if round_number % 2 == 0 else ("direct", "dockyard"):
                if side == "dockyard":
                    results["get_dockyard"].append(timed_download(f"{relay.url}/v2/{REPO}/blobs/{digest}", relay))
                else:
                    results["get_direct"].append(timed_download(presigned))
        blob_url = f"{redirect.url}/v2/{REPO}/blobs/{digest}"
        redirect_cpu = {
            "get_307_us": cpu_per_request(redirect, "GET", blob_url, args.requests),
            "head_us": cpu_per_request(redirect, "HEAD", blob_url, args.requests),
        }
        rehash = asyncio.run(rehash_cost(s3, bucket, 999, size))
    finally:
        relay.stop()
        redirect.stop()
    return {
        "results": results,
        "redirect_cpu": redirect_cpu,
        "rehash": rehash,
        "size_mib": args.size_mib,
        "part_mib": PART_BYTES // MIB,
    }


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def report(data: dict[str, Any]) -> str:
    rows = data["results"]
    push_ratio = _median(rows["push_dockyard"], "mb_s") / _median(rows["push_direct"], "mb_s")
    get_ratio = _median(rows["get_dockyard"], "mb_s") / _median(rows["get_direct"], "mb_s")
    cpu = data["redirect_cpu"]
    return "\n".join(
        [
            f"# S3 benchmark, {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, {platform.machine()}",
            "",
            f"Blob of {data['size_mib']} MiB, parts of {data['part_mib']} MiB, "
            f"{len(rows['push_dockyard'])} rounds (medians).",
            "",
            "| workload | dockyard | direct to S3 | ratio | dockyard server CPU | dockyard peak RSS growth |",
            "|---|---|---|---|---|---|",
            f"| push (one PATCH) MB/s | {_median(rows['push_dockyard'], 'mb_s'):.0f} | "
            f"{_median(rows['push_direct'], 'mb_s'):.0f} | {push_ratio:.2f}x | "
            f"{_median(rows['push_dockyard'], 'server_cpu_s'):.2f} s | "
            f"{max(row['rss_growth_mib'] for row in rows['push_dockyard']):.0f} MiB |",
            f"| blob GET MB/s | {_median(rows['get_dockyard'], 'mb_s'):.0f} | "
            f"{_median(rows['get_direct'], 'mb_s'):.0f} | "
            f"{get_ratio:.2f}x | {_median(rows['get_dockyard'], 'server_cpu_s'):.2f} s | |",
            f"| redirect mode: server CPU per blob GET (307) / per HEAD | {cpu['get_307_us']:.0f} us | "
            f"{cpu['head_us']:.0f} us (HEAD) | {cpu['get_307_us'] / cpu['head_us']:.2f}x | | |",
            "",
            f"An instance without the running hash completing a {data['size_mib']} MiB blob pushed in 8 chunks: "
            f"appending took {data['rehash']['append_s']:.1f} s, re-reading and hashing the stored bytes "
            f"{data['rehash']['rehash_s']:.1f} s ({data['rehash']['rehash_mb_s']:.0f} MB/s), composing the "
            f"8 segments server-side {data['rehash']['compose_s']:.1f} s.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    parser.add_argument("--start-ceph", action="store_true", help="start a throwaway Ceph RGW for the run")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300, help="requests for the redirect CPU figures")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp") / f"dockyard-bench-s3-{os.getpid()}")
    args = parser.parse_args()
    gateway = None
    if args.start_ceph:
        from tests.support.ceph import CephGateway  # noqa: PLC0415 - only for this option

        gateway = CephGateway(args.work_dir / "ceph").start()
        args.endpoint, args.access_key, args.secret_key = (
            gateway.endpoint.url, gateway.endpoint.access_key, gateway.endpoint.secret_key,
        )  # fmt: skip
    try:
        data = run(
            args,
            {"endpoint": args.endpoint, "access_key": args.access_key, "secret_key": args.secret_key},
            args.work_dir,
        )
    finally:
        if gateway is not None:
            gateway.stop()
            shutil.rmtree(gateway.data, ignore_errors=True)  # its OSD file holds every byte pushed
    text = report(data)
    print(text)
    stem = RESULTS / f"{time.strftime('%Y-%m-%d-%H%M')}-s3"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
