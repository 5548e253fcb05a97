"""podman and buildah against dockyard: images built from scratch, pushed over plain HTTP and
pulled back into a separate, empty storage. No container is ever run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.interop.clients import ContainersConfig, StorageTool, Target
from tests.interop.harness import MANIFEST_ACCEPT, sha256_digest

pytestmark = pytest.mark.interop

NO_TLS = "--tls-verify=false"


def image_digest(tool: StorageTool, ref: str) -> str:
    out = (
        tool("image", "inspect", ref).stdout
        if tool.name == "podman"
        else tool("inspect", "--type", "image", ref).stdout
    )
    data = json.loads(out)
    info = data[0] if isinstance(data, list) else data
    return str(info.get("Digest") or info.get("FromImageDigest"))


def read_rootfs(tool: StorageTool, image: str, paths: list[str]) -> dict[str, bytes]:
    """Files of a stored image, read through the storage's own mount (a plain dir with vfs)."""
    if tool.name == "podman":
        root = Path(tool("image", "mount", image).stdout.strip())
        try:
            return {p: (root / p).read_bytes() for p in paths}
        finally:
            tool("image", "unmount", image)
    container = tool("from", "--pull=never", image).stdout.strip()
    try:
        root = Path(tool("mount", container).stdout.strip())
        return {p: (root / p).read_bytes() for p in paths}
    finally:
        tool("rm", container)


def push_reporting_digest(tool: StorageTool, digestfile: Path, *args: str) -> str:
    """`<tool> push` (or `manifest push`) with --digestfile: the digest the tool says it pushed."""
    *command, source, destination = args
    tool(*command, NO_TLS, "--digestfile", str(digestfile), source, f"docker://{destination}")
    return digestfile.read_text().strip()


def check_registry_copy(http: httpx.Client, name: str, tag: str, digest: str) -> dict[str, object]:
    resp = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["docker-content-digest"] == digest
    assert sha256_digest(resp.content) == digest
    manifest: dict[str, object] = resp.json()
    return manifest


def test_buildah_push_podman_pull(
    buildah: StorageTool,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    ctx = scratch / "ctx"
    ctx.mkdir()
    (ctx / "hello").write_bytes(b"built by buildah from scratch\n")
    (ctx / "blob.bin").write_bytes(bytes(range(256)) * 300)

    container = buildah("from", "scratch").stdout.strip()
    buildah("copy", container, str(ctx / "hello"), "/hello")
    buildah("copy", container, str(ctx / "blob.bin"), "/data/blob.bin")
    buildah("config", "--label", "org.dockyard.test=buildah", "--cmd", "/hello", container)
    buildah("commit", "--format", "oci", container, "localhost/dockyard-buildah:latest")
    buildah("rm", container)

    name = repo("buildah")
    with target.meter.measure() as traffic:
        pushed = push_reporting_digest(
            buildah, scratch / "buildah.digest", "push", "localhost/dockyard-buildah:latest", target.ref(name, "v1")
        )
    report("buildah push upload style", traffic.describe_style())
    manifest = check_registry_copy(http, name, "v1", pushed)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    if target.meter.available:
        assert traffic.uploads == 2, traffic.describe_style()  # one layer and the config

    # podman pulls it into a storage of its own, which has never seen the image.
    other = StorageTool("podman", ContainersConfig(scratch / "podman", target.host))
    with target.meter.measure() as pull:
        other("pull", NO_TLS, target.ref(name, "v1"))
    if target.meter.available:
        assert pull.count("GET", "blob", "200") == 2
    assert image_digest(other, target.ref(name, "v1")) == pushed
    files = read_rootfs(other, target.ref(name, "v1"), ["hello", "data/blob.bin"])
    assert files == {"hello": (ctx / "hello").read_bytes(), "data/blob.bin": (ctx / "blob.bin").read_bytes()}
    labels = json.loads(other("image", "inspect", target.ref(name, "v1")).stdout)[0]["Labels"]
    assert labels["org.dockyard.test"] == "buildah"


def test_podman_push_buildah_pull(
    podman: StorageTool,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    ctx = scratch / "ctx"
    ctx.mkdir()
    (ctx / "greeting").write_text("built by podman from scratch\n")
    (ctx / "Containerfile").write_text(
        'FROM scratch\nCOPY greeting /greeting\nLABEL org.dockyard.test=podman\nCMD ["/greeting"]\n'
    )
    podman("build", "--pull=never", "--format", "docker", "-t", "localhost/dockyard-podman:latest", str(ctx))

    name = repo("podman")
    with target.meter.measure() as traffic:
        pushed = push_reporting_digest(
            podman, scratch / "podman.digest", "push", "localhost/dockyard-podman:latest", target.ref(name, "v1")
        )
    report("podman push upload style", traffic.describe_style())
    manifest = check_registry_copy(http, name, "v1", pushed)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    if target.meter.available:
        assert traffic.uploads == 2, traffic.describe_style()

    # A second tag pushed by podman reuses every blob the registry already has.
    with target.meter.measure() as again:
        podman("push", NO_TLS, "localhost/dockyard-podman:latest", f"docker://{target.ref(name, 'v2')}")
    if target.meter.available:
        assert again.uploads == 0, again.describe_style()
    tags = http.get(f"/v2/{name}/tags/list").json()["tags"]
    assert sorted(tags) == ["v1", "v2"]

    # The same image as OCI with zstd layers: a layer media type the registry must simply store.
    # podman would reuse the gzip layer it knows the registry has; forget that first.
    for cache in podman.conf.root.rglob("blob-info-cache-v1.boltdb"):
        cache.unlink()
    zstd_pushed = push_reporting_digest(
        podman,
        scratch / "zstd.digest",
        *("push", "--format", "oci", "--compression-format", "zstd"),
        "localhost/dockyard-podman:latest",
        target.ref(name, "zstd"),
    )
    zstd_manifest = check_registry_copy(http, name, "zstd", zstd_pushed)
    layers = zstd_manifest["layers"]
    assert isinstance(layers, list)
    assert [layer["mediaType"] for layer in layers] == ["application/vnd.oci.image.layer.v1.tar+zstd"]

    other = StorageTool("buildah", ContainersConfig(scratch / "buildah", target.host))
    for tag, digest in (("v1", pushed), ("zstd", zstd_pushed)):
        other("pull", NO_TLS, target.ref(name, tag))
        assert image_digest(other, target.ref(name, tag)) == digest
        files = read_rootfs(other, target.ref(name, tag), ["greeting"])
        assert files == {"greeting": b"built by podman from scratch\n"}


def test_podman_manifest_list_push(
    podman: StorageTool,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
) -> None:
    """An index assembled by podman itself (`podman manifest`) from two local images."""
    refs: dict[str, str] = {}
    for arch in ("amd64", "arm64"):
        ctx = scratch / arch
        ctx.mkdir()
        (ctx / "arch").write_text(f"{arch}\n")
        (ctx / "Containerfile").write_text("FROM scratch\nCOPY arch /arch\n")
        refs[arch] = f"localhost/dockyard-{arch}:latest"
        podman("build", "--pull=never", "--platform", f"linux/{arch}", "-t", refs[arch], str(ctx))
    podman("manifest", "create", "localhost/dockyard-list:latest")
    for arch, ref in refs.items():
        podman("manifest", "add", "--arch", arch, "localhost/dockyard-list:latest", f"containers-storage:{ref}")

    name = repo("list")
    pushed = push_reporting_digest(
        podman,
        scratch / "list.digest",
        *("manifest", "push", "--all"),
        "localhost/dockyard-list:latest",
        target.ref(name, "multi"),
    )
    index = check_registry_copy(http, name, "multi", pushed)
    children = index["manifests"]
    assert isinstance(children, list)
    assert sorted(c["platform"]["architecture"] for c in children) == ["amd64", "arm64"]
    for child in children:
        resp = http.get(f"/v2/{name}/manifests/{child['digest']}", headers={"Accept": MANIFEST_ACCEPT})
        assert resp.status_code == 200
        assert sha256_digest(resp.content) == child["digest"]

    # Pull each platform back through the index into a fresh storage.
    other = StorageTool("podman", ContainersConfig(scratch / "pull", target.host))
    for arch in ("amd64", "arm64"):
        other("pull", NO_TLS, "--arch", arch, target.ref(name, "multi"))
        files = read_rootfs(other, target.ref(name, "multi"), ["arch"])
        assert files == {"arch": f"{arch}\n".encode()}
