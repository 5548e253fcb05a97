"""A 256 MiB layer of random data through dockyard, pushed and pulled by skopeo, by oras-py
(monolithic and chunked) and by python-dxf (three parallel pulls), with digests checked end to
end and the server's peak memory bounded far below the layer size: the bytes must stream, never
sit in memory."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dxf
import httpx
import oras.client
import pytest
from tests.interop.clients import Skopeo, Target
from tests.interop.harness import (
    MANIFEST_ACCEPT,
    OCI_LAYER_TAR,
    Layout,
    file_digest,
    log,
    read_layout_ref,
)

if TYPE_CHECKING:
    from tests.conftest import Registry

pytestmark = [pytest.mark.interop, pytest.mark.slow]

LAYER_MIB = 256
# What moving the layer may add to the server's peak memory: far below the layer's size. Measured as
# growth, since the server's resident size at rest grows with its features, not with the blobs it moves.
RSS_GROWTH_LIMIT_MIB = LAYER_MIB // 4
# The peak each server had when first measured (in a whole run: before anything large moved).
_PEAK_AT_REST: dict[int, int] = {}
MIB = 1 << 20


@dataclass
class BigLayer:
    path: Path
    digest: str
    size: int


@pytest.fixture(scope="module")
def big_layer() -> Iterator[BigLayer]:
    """An uncompressed tar layer holding one file of random bytes (so nothing can compress it)."""
    root = Path(tempfile.mkdtemp(prefix="dyi-big-", dir="/tmp"))
    try:
        data = root / "random.bin"
        started = time.monotonic()
        with data.open("wb") as f:
            for _ in range(LAYER_MIB):
                f.write(os.urandom(MIB))
        layer = root / "layer.tar"
        with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(data, arcname="random.bin")
        data.unlink()
        big = BigLayer(layer, file_digest(layer), layer.stat().st_size)
        log(f"large layer {big.digest} ({big.size / MIB:.1f} MiB) written in {time.monotonic() - started:.1f}s")
        yield big
    finally:
        shutil.rmtree(root, ignore_errors=True)


def peak_rss(registry: Registry, report: Callable[[str, str], None], stage: str) -> None:
    """Record the server's peak RSS; for dockyard, what the large layer adds to it must stay far below
    the layer's size."""
    if registry.server is None:
        pid = os.environ.get("DOCKYARD_INTEROP_SERVER_PID")
        if pid:
            status = Path(f"/proc/{pid}/status").read_text()
            hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            report(f"peak RSS after {stage} (external registry pid {pid})", f"{hwm / 1024:.1f} MiB")
        return
    kib = registry.server.peak_rss_kib()
    at_rest = _PEAK_AT_REST.setdefault(id(registry.server), kib)
    report(
        f"dockyard peak RSS after {stage}",
        f"{kib / 1024:.1f} MiB (at rest {at_rest / 1024:.1f} MiB, current {registry.server.rss_kib() / 1024:.1f} MiB)",
    )
    grown = (kib - at_rest) / 1024
    assert grown < RSS_GROWTH_LIMIT_MIB, f"dockyard's peak RSS grew {grown:.1f} MiB with a {LAYER_MIB} MiB layer"


def rate(seconds: float, size: int) -> str:
    return f"{seconds:.1f}s ({size / MIB / max(seconds, 1e-6):.0f} MiB/s)"


def test_large_layer_skopeo(
    big_layer: BigLayer,
    skopeo: Skopeo,
    target: Target,
    registry: Registry,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    layout = Layout(scratch / "src")
    image = layout.add_image([{"note": b"a large layer follows\n"}], extra_layer_files=[big_layer.path], tag="big")
    assert image.layers[-1].digest == big_layer.digest
    assert image.layers[-1].media_type == OCI_LAYER_TAR
    name = repo("big")
    peak_rss(registry, report, "nothing large yet")

    started = time.monotonic()
    with target.meter.measure() as traffic:
        # Without --preserve-digests skopeo would gzip the uncompressed layer on the way.
        skopeo(
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout.path}:big",
            f"docker://{target.ref(name, 'big')}",
            timeout=300,
        )
    report("skopeo push 256 MiB", rate(time.monotonic() - started, big_layer.size))
    report("skopeo large push upload style", traffic.describe_style())
    peak_rss(registry, report, "skopeo push")

    head = http.head(f"/v2/{name}/blobs/{big_layer.digest}")
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == big_layer.size
    assert head.headers["docker-content-digest"] == big_layer.digest

    out = scratch / "pulled"
    started = time.monotonic()
    skopeo(
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        f"docker://{target.ref(name, 'big')}",
        f"oci:{out}:big",
        timeout=300,
    )
    report("skopeo pull 256 MiB", rate(time.monotonic() - started, big_layer.size))
    assert read_layout_ref(out, "big")["digest"] == image.manifest.digest
    pulled = out / "blobs" / "sha256" / big_layer.digest.split(":", 1)[1]
    assert pulled.stat().st_size == big_layer.size
    assert file_digest(pulled) == big_layer.digest
    peak_rss(registry, report, "skopeo pull")


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_large_layer_oras(
    chunked: bool,
    big_layer: BigLayer,
    target: Target,
    registry: Registry,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    client = oras.client.OrasClient(hostname=target.host, insecure=True)
    name = repo("big")
    style = "chunked" if chunked else "monolithic"

    started = time.monotonic()
    with target.meter.measure() as traffic:
        resp = client.push(
            target=target.ref(name, "big"),
            files=[f"{big_layer.path}:{OCI_LAYER_TAR}"],
            disable_path_validation=True,
            do_chunked=chunked,
            chunk_size=32 * MIB,
            quiet=True,
        )
    assert resp.status_code == 201, f"{resp.status_code} {resp.text[:300]}"
    report(f"oras-py {style} push 256 MiB", rate(time.monotonic() - started, big_layer.size))
    report(f"oras-py {style} large push upload style", traffic.describe_style())
    if target.meter.available and chunked:
        chunks = -(-big_layer.size // (32 * MIB))
        assert traffic.count("PATCH", "upload", "202") == chunks, traffic.describe_style()
    peak_rss(registry, report, f"oras-py {style} push")

    manifest = http.get(f"/v2/{name}/manifests/big", headers={"Accept": MANIFEST_ACCEPT}).json()
    assert [layer["digest"] for layer in manifest["layers"]] == [big_layer.digest]

    out = scratch / "out"
    started = time.monotonic()
    files = client.pull(target=target.ref(name, "big"), outdir=str(out))
    report(f"oras-py pull 256 MiB (after {style} push)", rate(time.monotonic() - started, big_layer.size))
    assert [Path(f).name for f in files] == ["layer.tar"]
    pulled = out / "layer.tar"
    assert pulled.stat().st_size == big_layer.size
    assert file_digest(pulled) == big_layer.digest
    peak_rss(registry, report, f"oras-py pull after {style} push")


def test_large_layer_parallel_pulls(
    big_layer: BigLayer,
    target: Target,
    registry: Registry,
    repo: Callable[[str], str],
    report: Callable[[str, str], None],
) -> None:
    """python-dxf streams the layer up in one PUT, then three clients pull it at the same time:
    memory must not grow with the number of readers either."""
    name = repo("big")
    pusher = dxf.DXF(target.host, name, insecure=True, timeout=120)
    started = time.monotonic()
    with target.meter.measure() as traffic:
        assert pusher.push_blob(str(big_layer.path)) == big_layer.digest
    report("python-dxf push 256 MiB", rate(time.monotonic() - started, big_layer.size))
    report("python-dxf large push upload style", traffic.describe_style())
    peak_rss(registry, report, "python-dxf push")

    def pull_digest(_: int) -> tuple[str, int]:
        h = hashlib.sha256()
        size = 0
        puller = dxf.DXF(target.host, name, insecure=True, timeout=120)
        for chunk in puller.pull_blob(big_layer.digest, chunk_size=MIB):
            h.update(chunk)
            size += len(chunk)
        return "sha256:" + h.hexdigest(), size

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(pull_digest, range(3), timeout=300))
    report("3 parallel python-dxf pulls of 256 MiB", rate(time.monotonic() - started, 3 * big_layer.size))
    assert results == [(big_layer.digest, big_layer.size)] * 3
    peak_rss(registry, report, "3 parallel pulls")
