"""containerd's ctr against dockyard, with a private containerd daemon: import an OCI archive,
push it (a single image and a two-platform index), drop it locally, pull it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.interop.clients import Containerd, Target
from tests.interop.conftest import also_redirected
from tests.interop.harness import MANIFEST_ACCEPT, OCI_INDEX, Layout, sha256_digest, untar

pytestmark = pytest.mark.interop

PLAIN = "--plain-http"


def content_digests(daemon: Containerd) -> set[str]:
    lines = daemon.ctr("content", "ls", "--quiet").stdout.split()
    return {line for line in lines if line.startswith("sha256:")}


@also_redirected
def test_ctr_push_pull(
    containerd: Containerd,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    name = repo("ctr")
    single_ref, multi_ref = target.ref(name, "v1"), target.ref(name, "multi")
    layout = Layout(scratch / "layout")
    # Every layer names the repository: content this daemon holds from another run of the test (it
    # outlives a test) never shares a digest with this run's, whose removal is checked below.
    mark = {"etc/pushed-to": f"{name}\n".encode()}
    image = layout.add_image(
        [
            {"hello": b"pushed by ctr\n", **mark},
            {"etc/os-release": b"ID=dockyard\n", "bin/x": bytes(range(256)) * 40, **mark},
        ],
        tag=single_ref,
    )
    amd = layout.add_image([{"arch": b"amd64\n", **mark}], arch="amd64")
    arm = layout.add_image([{"arch": b"arm64\n", **mark}], arch="arm64")
    index = layout.add_index([amd, arm], tag=multi_ref)

    containerd.ctr("images", "import", "--all-platforms", "--no-unpack", str(layout.archive(scratch / "img.tar")))
    listed = containerd.ctr("images", "ls", "--quiet").stdout.split()
    assert single_ref in listed
    assert multi_ref in listed

    with target.meter.measure() as traffic:
        containerd.ctr("images", "push", PLAIN, single_ref)
    report("ctr push upload style", traffic.describe_style())
    resp = http.get(f"/v2/{name}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["docker-content-digest"] == image.manifest.digest
    assert sha256_digest(resp.content) == image.manifest.digest
    if target.meter.available:
        assert traffic.uploads == 3, traffic.describe_style()

    containerd.ctr("images", "push", PLAIN, multi_ref)
    resp = http.get(f"/v2/{name}/manifests/multi", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.headers["content-type"] == OCI_INDEX
    assert resp.headers["docker-content-digest"] == index.digest

    # Forget everything locally, then pull back over plain HTTP.
    containerd.ctr("images", "rm", "--sync", single_ref, multi_ref)
    ours = {image.manifest.digest, *(layer.digest for layer in image.layers), index.digest}
    assert not ours & content_digests(containerd), "content should be gone after images rm --sync"

    with target.meter.measure() as pull:
        out = containerd.ctr("images", "pull", PLAIN, "--snapshotter", "native", single_ref).stdout
    assert image.manifest.digest in out
    if target.meter.available:
        assert pull.count("GET", "blob", target.blob_get_status) == 3, pull.describe_style()
    files: dict[str, bytes] = {}
    for layer in image.layers:
        raw = containerd.content_get(layer.digest, scratch / layer.digest.replace(":", "-"))
        assert sha256_digest(raw) == layer.digest
        files.update(untar(raw))
    assert files == image.files

    containerd.ctr("images", "pull", PLAIN, "--all-platforms", multi_ref)
    have = content_digests(containerd)
    for child in (amd, arm):
        assert child.manifest.digest in have
        assert all(layer.digest in have for layer in child.layers)
    check = containerd.ctr("images", "check").stdout
    assert multi_ref in check

    # By digest, too.
    by_digest = f"{target.host}/{name}@{image.manifest.digest}"
    containerd.ctr("images", "pull", PLAIN, "--snapshotter", "native", by_digest)
    assert by_digest in containerd.ctr("images", "ls", "--quiet").stdout.split()

    # containerd labels pulled content with the repository it came from; pushing the image to
    # another repository of the same registry then asks for cross-repository mounts.
    copy_name = repo("ctr-copy")
    copy_ref = target.ref(copy_name, "v1")
    containerd.ctr("images", "tag", single_ref, copy_ref)
    with target.meter.measure() as copy_traffic:
        containerd.ctr("images", "push", PLAIN, copy_ref)
    report("ctr push to a second repository", copy_traffic.describe_style())
    if target.meter.available:
        assert copy_traffic.mounts == len(image.layers) + 1, copy_traffic.describe_style()
        assert copy_traffic.uploads == 0, copy_traffic.describe_style()
    for blob in (*image.layers, image.config):
        assert http.head(f"/v2/{copy_name}/blobs/{blob.digest}").status_code == 200
    resp = http.get(f"/v2/{copy_name}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.headers["docker-content-digest"] == image.manifest.digest
