"""docker (Debian's docker.io engine, private dockerd) against dockyard: an image made with
`docker import`, pushed by tag, pulled back by tag and by digest; pushed again to a second
repository; and an OCI image pushed by skopeo, pulled by docker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.interop.clients import Skopeo, Target
from tests.interop.docker import DockerClient, DockerDaemon, check_stored, small_image
from tests.interop.harness import Layout

pytestmark = pytest.mark.interop


def test_docker_daemon_is_private(docker: DockerClient, docker_daemon: DockerDaemon) -> None:
    """The daemon the suite talks to keeps its images where the suite put it, and is the PID it wrote."""
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    assert info["DockerRootDir"] == str(docker_daemon.root / "data")
    assert info["Driver"] == "vfs"
    assert docker_daemon.proc is not None
    assert docker_daemon.pid == docker_daemon.proc.pid


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
    image_id, files = small_image(docker, scratch, ref, "push-pull")

    with target.meter.measure() as traffic:
        digest, size = docker.push(ref)
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
    image_id, files = small_image(docker, scratch, target.ref(first, "v1"), "mount")
    digest, _ = docker.push(target.ref(first, "v1"))
    docker("tag", target.ref(first, "v1"), target.ref(second, "v1"))
    with target.meter.measure() as traffic:
        assert docker.push(target.ref(second, "v1"))[0] == digest
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
