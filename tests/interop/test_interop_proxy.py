"""Real clients pulling through dockyard's cache the way they are configured in real life, from a fake
Docker Hub (Distribution 2.8.2 on loopback, named `fakehub.example` to the clients, which cannot reach
that name): containerd with a `hosts.toml` mirror (it sends `?ns=fakehub.example`), skopeo and podman
with a `registries.conf` mirror whose location has a path prefix, skopeo, oras-py and python-dxf on the
prefix route, and a private dockerd with `registry-mirrors` (the default upstream)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dxf
import httpx
import oras.client
import pytest
import yaml
from tests.http.ocitest import RegistryClient
from tests.interop.clients import Containerd, ContainersConfig, Skopeo, StorageTool, can_private_mount
from tests.interop.docker import DockerDaemon
from tests.interop.harness import Image, Layout, layout_files, sha256_digest
from tests.remote.support import Distribution
from tests.support.server import DockyardServer

pytestmark = pytest.mark.interop

FAKE_HUB = "fakehub.example"


@dataclass
class Cache:
    server: DockyardServer
    upstream: Distribution

    @property
    def host(self) -> str:
        return self.server.url.removeprefix("http://")

    def upstream_gets(self, repository: str, kind: str) -> int:
        """GETs the fake Docker Hub answered for a repository (from its access log)."""
        log = self.upstream.log_path.read_text(errors="replace")
        return sum(f'"GET /v2/{repository}/{kind}/' in line for line in log.splitlines())


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, tools_present: None) -> Iterator[Cache]:
    work = tmp_path_factory.mktemp("proxy-interop")
    upstream = Distribution(work / "fakehub").start()
    config = work / "config.yaml"
    hub = {"name": "hub", "url": upstream.url, "prefix": "hub", "namespaces": [FAKE_HUB], "default": True}
    config.write_text(yaml.safe_dump({"proxy": {"upstreams": [{**hub, "library_prefix": True}]}}))
    server = DockyardServer(work / "data", ["--config", str(config)]).start()
    try:
        yield Cache(server, upstream)
    finally:
        server.stop()
        upstream.stop()


def seed(cache: Cache, scratch: Path, label: str) -> tuple[str, Layout, Image]:
    """An image (two gzipped tar layers) pushed to the fake Docker Hub as library/<name>:v1."""
    name = f"proxied-{label}-{uuid.uuid4().hex[:8]}"
    layout = Layout(scratch / f"layout-{label}")
    image = layout.add_image(
        [{"hello": f"through the cache for {label}\n".encode()}, {"etc/os-release": b"ID=fakehub\n"}], tag="v1"
    )
    with RegistryClient(cache.upstream.url) as client:
        for blob in (image.config, *image.layers):
            client.push_blob(f"library/{name}", layout.blob_path(blob.digest).read_bytes())
        client.push_manifest(f"library/{name}", "v1", layout.blob_path(image.manifest.digest).read_bytes())
    return name, layout, image


def test_containerd_mirror_sends_ns(containerd: Containerd, cache: Cache, scratch: Path) -> None:
    name, _, image = seed(cache, scratch, "ctr")
    hosts = scratch / "certs.d" / FAKE_HUB
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text(
        f'server = "https://{FAKE_HUB}"\n\n[host."http://{cache.host}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    ref = f"{FAKE_HUB}/library/{name}:v1"
    out = containerd.ctr("images", "pull", "--hosts-dir", str(scratch / "certs.d"), "--snapshotter", "native", ref)
    assert image.manifest.digest in out.stdout
    for layer in image.layers:
        raw = containerd.content_get(layer.digest, scratch / layer.digest.replace(":", "-"))
        assert sha256_digest(raw) == layer.digest
    with httpx.Client(base_url=cache.server.url) as http:
        assert f"hub/library/{name}" in http.get("/v2/_catalog").json()["repositories"]
        echoed = http.head(f"/v2/library/{name}/manifests/v1", params={"ns": FAKE_HUB})
        assert echoed.headers["oci-namespace"] == FAKE_HUB
    assert cache.upstream_gets(f"library/{name}", "blobs") == len(image.layers) + 1


def mirrored_containers_conf(root: Path, cache: Cache) -> ContainersConfig:
    """skopeo/podman configuration in which fakehub.example is mirrored by `<dockyard>/hub`."""
    conf = ContainersConfig(root, cache.host)
    (root / "registries.conf").write_text(
        'unqualified-search-registries = []\nshort-name-mode = "disabled"\n\n'
        f'[[registry]]\nprefix = "{FAKE_HUB}"\nlocation = "{FAKE_HUB}"\n\n'
        f'[[registry.mirror]]\nlocation = "{cache.host}/hub"\ninsecure = true\n'
    )
    return conf


def test_skopeo_and_podman_pull_through_a_mirror_with_a_path_prefix(cache: Cache, scratch: Path) -> None:
    name, _, image = seed(cache, scratch, "podman")
    conf = mirrored_containers_conf(scratch / "c", cache)
    skopeo, podman = Skopeo(conf), StorageTool("podman", conf)
    # These versions read CONTAINERS_REGISTRIES_CONF only through their (hidden) flag.
    registries = ("--registries-conf", str(conf.root / "registries.conf"))
    out = scratch / "copied"
    skopeo(*registries, "copy", f"docker://{FAKE_HUB}/library/{name}:v1", f"oci:{out}:v1")
    assert layout_files(out, image.manifest.digest) == image.files
    podman(*registries, "pull", f"{FAKE_HUB}/library/{name}:v1", timeout=180)
    listed = podman("images", "--format", "{{.Digest}}").stdout.split()
    assert image.manifest.digest in listed
    # One fetch upstream whatever the number of clients: skopeo filled the cache, podman hit it.
    assert cache.upstream_gets(f"library/{name}", "manifests") == 1


def test_skopeo_oras_and_dxf_on_the_prefix_route(cache: Cache, scratch: Path) -> None:
    name, _, image = seed(cache, scratch, "prefix")
    conf = ContainersConfig(scratch / "c", cache.host)
    inspected = json.loads(Skopeo(conf)("inspect", "--tls-verify=false", f"docker://{cache.host}/hub/{name}:v1").stdout)
    assert inspected["Digest"] == image.manifest.digest
    assert inspected["Name"] == f"{cache.host}/hub/{name}"
    layer = image.layers[0]
    puller = dxf.DXF(cache.host, f"hub/library/{name}", insecure=True, timeout=60)
    assert sha256_digest(b"".join(puller.pull_blob(layer.digest))) == layer.digest
    # An artifact pushed to the fake hub with oras, pulled through the cache with oras.
    upstream_host = cache.upstream.url.removeprefix("http://")
    artifact = f"library/{name}-artifact"
    payload = scratch / "notes.txt"
    payload.write_text("an artifact behind a pull-through cache\n")
    pushed = oras.client.OrasClient(hostname=upstream_host, insecure=True).push(
        target=f"{upstream_host}/{artifact}:v1", files=[str(payload)], disable_path_validation=True, quiet=True
    )
    assert pushed.status_code == 201
    pulled = oras.client.OrasClient(hostname=cache.host, insecure=True).pull(
        target=f"{cache.host}/hub/{artifact}:v1", outdir=str(scratch / "out")
    )
    assert [Path(path).read_text() for path in pulled] == [payload.read_text()]


@pytest.fixture(scope="module")
def mirrored_docker(cache: Cache) -> Iterator[DockerDaemon]:
    """A private dockerd whose Docker Hub mirror is the cache (its default upstream being the fake hub)."""
    if not can_private_mount():
        pytest.fail("dockerd needs a private mount namespace (unshare --mount) to keep off /run", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="dyi-dkm-", dir="/tmp"))
    daemon = DockerDaemon(root, {"registry-mirrors": [cache.server.url]})
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        subprocess.run(["chmod", "-R", "u+w", str(root)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_docker_pulls_docker_hub_images_through_its_registry_mirror(
    mirrored_docker: DockerDaemon, cache: Cache, scratch: Path
) -> None:
    name, _, image = seed(cache, scratch, "docker")
    docker = mirrored_docker.client(scratch / "docker-config")
    docker("pull", f"library/{name}:v1", timeout=180)
    assert json.loads(docker.inspect(f"library/{name}:v1", "Id")) == image.config.digest
    with httpx.Client(base_url=cache.server.url) as http:
        repositories = http.get("/v2/_catalog").json()["repositories"]
    assert f"hub/library/{name}" in repositories
    assert f"library/{name}" not in repositories
