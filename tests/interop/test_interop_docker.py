"""docker (Debian's docker.io engine, private dockerd) against dockyard: an image made with
`docker import`, pushed by tag, pulled back by tag and by digest; pushed again to a second
repository; and an OCI image pushed by skopeo, pulled by docker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.interop.clients import Skopeo, Target
from tests.interop.docker import DockerClient
from tests.interop.harness import DOCKER_MANIFEST, MANIFEST_ACCEPT, Layout, sha256_digest, tar_bytes, untar

pytestmark = pytest.mark.interop

PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)")


def imported_image(docker: DockerClient, scratch: Path, ref: str, label: str) -> tuple[str, dict[str, bytes]]:
    """`docker import` of a small tarball built here: (image ID, files in it)."""
    files = {
        "hello": f"imported by docker for {label}\n".encode(),
        "etc/os-release": b"ID=dockyard\n",
        "bin/data": bytes(range(256)) * 64,
    }
    tarball = scratch / f"{label}.tar"
    tarball.write_bytes(tar_bytes(files))
    image_id = docker("import", "--change", 'CMD ["/hello"]', str(tarball), ref).stdout.strip()
    assert image_id.startswith("sha256:"), image_id
    return image_id, files


def push(docker: DockerClient, ref: str) -> tuple[str, int]:
    """`docker push`: the manifest digest and size it reports."""
    out = docker("push", ref).stdout
    found = PUSHED.search(out)
    assert found, f"no digest in docker push output:\n{out}"
    return found.group(1), int(found.group(2))


def check_stored(http: httpx.Client, name: str, tag: str, digest: str, image_id: str, files: dict[str, bytes]) -> None:
    """What docker pushed is in dockyard as docker described it, byte for byte."""
    resp = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == DOCKER_MANIFEST
    assert resp.headers["docker-content-digest"] == digest
    assert sha256_digest(resp.content) == digest
    manifest = resp.json()
    assert manifest["config"]["digest"] == image_id
    [layer] = manifest["layers"]
    blob = http.get(f"/v2/{name}/blobs/{layer['digest']}")
    assert blob.status_code == 200
    assert sha256_digest(blob.content) == layer["digest"]
    assert untar(blob.content) == files


def test_docker_push_pull(
    docker: DockerClient,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    name = repo("docker")
    ref = target.ref(name, "v1")
    image_id, files = imported_image(docker, scratch, ref, "push-pull")

    with target.meter.measure() as traffic:
        digest, size = push(docker, ref)
    report("docker push upload style", traffic.describe_style())
    if target.meter.available:
        assert traffic.uploads == 2, traffic.describe_style()  # the layer and the config
    check_stored(http, name, "v1", digest, image_id, files)
    assert int(http.head(f"/v2/{name}/manifests/{digest}").headers["content-length"]) == size

    # Forget the image locally, then pull it back by tag.
    docker("rmi", ref)
    assert docker("images", "--quiet", "--no-trunc").stdout.split().count(image_id) == 0
    with target.meter.measure() as pull:
        docker("pull", ref)
    if target.meter.available:
        assert pull.count("GET", "blob", "200") == 2, pull.describe_style()
    assert json.loads(docker.inspect(ref, "Id")) == image_id
    assert f"{target.host}/{name}@{digest}" in json.loads(docker.inspect(ref, "RepoDigests"))

    # And by digest, into a daemon that no longer has it.
    docker("rmi", ref)
    by_digest = target.ref(name, digest)
    docker("pull", by_digest)
    assert json.loads(docker.inspect(by_digest, "Id")) == image_id
    assert docker.saved_files(by_digest, scratch) == files


def test_docker_push_to_second_repository_mounts(
    docker: DockerClient,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    first, second = repo("src"), repo("copy")
    image_id, files = imported_image(docker, scratch, target.ref(first, "v1"), "mount")
    digest, _ = push(docker, target.ref(first, "v1"))
    docker("tag", target.ref(first, "v1"), target.ref(second, "v1"))
    with target.meter.measure() as traffic:
        assert push(docker, target.ref(second, "v1"))[0] == digest
    report("docker push to a second repository", traffic.describe_style())
    if target.meter.available:
        # docker remembers where the layer came from and mounts it; the config is uploaded again.
        assert traffic.mounts == 1, traffic.describe_style()
    check_stored(http, second, "v1", digest, image_id, files)


def test_docker_pulls_oci_image_pushed_by_skopeo(
    docker: DockerClient,
    skopeo: Skopeo,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
) -> None:
    name = repo("oci")
    layout = Layout(scratch / "layout")
    image = layout.add_image([{"hello": b"pushed by skopeo\n"}, {"etc/os-release": b"ID=dockyard\n"}], tag="v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", f"docker://{target.ref(name, 'v1')}")
    docker("pull", target.ref(name, "v1"))
    assert json.loads(docker.inspect(target.ref(name, "v1"), "Id")) == image.config.digest
    assert docker.saved_files(target.ref(name, "v1"), scratch) == image.files
