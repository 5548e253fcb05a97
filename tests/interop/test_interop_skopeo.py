"""skopeo against dockyard: OCI layouts pushed and pulled by tag and digest, image indexes,
Docker schema 2, cross-repository mounts, inspect / list-tags / delete, and the HTTPS probe."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.interop.clients import Skopeo, Target
from tests.interop.conftest import also_redirected
from tests.interop.harness import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    Layout,
    layout_blob,
    layout_files,
    read_layout_ref,
    sha256_digest,
    untar,
)

pytestmark = pytest.mark.interop

TLS = "--dest-tls-verify=false"
SRC_TLS = "--src-tls-verify=false"


def sample_layers(tag: str) -> list[dict[str, bytes]]:
    return [
        {"hello": f"hello from {tag}\n".encode(), "bin/tool": bytes(range(256)) * 64},
        {"etc/motd": f"dockyard interop {tag}\n".encode(), "etc/empty": b""},
    ]


@also_redirected
def test_skopeo_push_pull_tag_and_digest(
    skopeo: Skopeo,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    layout = Layout(scratch / "src")
    image = layout.add_image(sample_layers("v1"), tag="v1")
    name = repo("app")
    digestfile = scratch / "digest"

    # Before the push: the registry's error body is what skopeo shows the user.
    missing = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{target.ref(name, 'v1')}", check=False)
    assert missing.returncode != 0
    assert "unknown" in missing.stderr.lower(), missing.describe()

    with target.meter.measure() as traffic:
        skopeo(
            "copy",
            TLS,
            "--digestfile",
            str(digestfile),
            f"oci:{layout.path}:v1",
            f"docker://{target.ref(name, 'v1')}",
        )
    report("skopeo push upload style", traffic.describe_style())
    pushed = digestfile.read_text().strip()
    assert pushed == image.manifest.digest, "an OCI manifest must be stored byte for byte"
    if target.meter.available:
        # Two layers and a config, each a fresh upload in a fresh repository.
        assert traffic.uploads == 3, traffic.describe_style()
        assert traffic.mounts == 0

    # The registry serves the very bytes, with the right headers.
    resp = http.get(f"/v2/{name}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == OCI_MANIFEST
    assert resp.headers["docker-content-digest"] == pushed
    assert resp.content == layout_blob(layout.path, pushed)

    # Pull back by tag and by digest.
    by_tag, by_digest = scratch / "by-tag", scratch / "by-digest"
    with target.meter.measure() as pull_traffic:
        skopeo("copy", SRC_TLS, f"docker://{target.ref(name, 'v1')}", f"oci:{by_tag}:v1")
    skopeo("copy", SRC_TLS, f"docker://{target.ref(name, pushed)}", f"oci:{by_digest}:pulled")
    if target.meter.available:
        assert pull_traffic.count("GET", "blob", target.blob_get_status) == 3
        assert pull_traffic.count(route="upload") == 0
    for out, ref in ((by_tag, "v1"), (by_digest, "pulled")):
        entry = read_layout_ref(out, ref)
        assert entry["digest"] == pushed
        assert layout_files(out, pushed) == image.files

    # inspect: parsed, raw and config.
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target.ref(name, 'v1')}").stdout)
    assert inspected["Digest"] == pushed
    assert inspected["Layers"] == [layer.digest for layer in image.layers]
    assert inspected["Labels"] == {"org.dockyard.test": "dockyard-interop"}
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{target.ref(name, pushed)}").stdout
    assert sha256_digest(raw.encode()) == pushed
    config = skopeo("inspect", "--config", "--raw", "--tls-verify=false", f"docker://{target.ref(name, 'v1')}").stdout
    assert sha256_digest(config.encode()) == image.config.digest

    # A registry-to-registry copy adds a tag without moving any layer bytes.
    with target.meter.measure() as retag:
        skopeo("copy", SRC_TLS, TLS, f"docker://{target.ref(name, 'v1')}", f"docker://{target.ref(name, 'v2')}")
    if target.meter.available:
        assert retag.uploads == 0, retag.describe_style()
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{target.host}/{name}").stdout)
    assert tags["Repository"] == f"{target.host}/{name}"
    assert sorted(tags["Tags"]) == ["v1", "v2"]

    # delete resolves the tag and deletes the manifest by digest: both tags go with it.
    skopeo("delete", "--tls-verify=false", f"docker://{target.ref(name, 'v2')}")
    gone = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{target.ref(name, pushed)}", check=False)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower() or "not found" in gone.stderr.lower(), gone.describe()
    assert http.get(f"/v2/{name}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}).status_code == 404
    listed = skopeo("list-tags", "--tls-verify=false", f"docker://{target.host}/{name}", check=False)
    if listed.returncode == 0:
        assert json.loads(listed.stdout)["Tags"] == []


def test_skopeo_multi_platform_index(
    skopeo: Skopeo, target: Target, repo: Callable[[str], str], scratch: Path, http: httpx.Client
) -> None:
    layout = Layout(scratch / "src")
    amd = layout.add_image(sample_layers("amd64"), arch="amd64")
    arm = layout.add_image(sample_layers("arm64"), arch="arm64")
    index = layout.add_index([amd, arm], tag="multi")
    name = repo("multi")
    digestfile = scratch / "digest"

    skopeo(
        "copy",
        "--all",
        TLS,
        "--digestfile",
        str(digestfile),
        f"oci:{layout.path}:multi",
        f"docker://{target.ref(name, 'multi')}",
    )
    assert digestfile.read_text().strip() == index.digest

    resp = http.get(f"/v2/{name}/manifests/multi", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == OCI_INDEX
    assert resp.content == layout_blob(layout.path, index.digest)
    for child in (amd, arm):
        head = http.head(f"/v2/{name}/manifests/{child.manifest.digest}", headers={"Accept": MANIFEST_ACCEPT})
        assert head.status_code == 200
        assert head.headers["docker-content-digest"] == child.manifest.digest
        assert int(head.headers["content-length"]) == child.manifest.size

    # The platform choice is the client's: each arch resolves to its own manifest's layers.
    for arch, child in (("amd64", amd), ("arm64", arm)):
        out = json.loads(
            skopeo(
                "--override-arch",
                arch,
                "--override-os",
                "linux",
                "inspect",
                "--tls-verify=false",
                f"docker://{target.ref(name, 'multi')}",
            ).stdout
        )
        # "Digest" names what the tag points at (the index); the rest is the chosen child's.
        assert out["Digest"] == index.digest
        assert out["Architecture"] == arch
        assert out["Layers"] == [layer.digest for layer in child.layers]

    pulled = scratch / "pulled"
    skopeo("copy", "--all", SRC_TLS, f"docker://{target.ref(name, 'multi')}", f"oci:{pulled}:multi")
    assert read_layout_ref(pulled, "multi")["digest"] == index.digest
    for child in (amd, arm):
        assert layout_files(pulled, child.manifest.digest) == child.files


def test_skopeo_docker_manifest_list(
    skopeo: Skopeo, target: Target, repo: Callable[[str], str], scratch: Path, http: httpx.Client
) -> None:
    """The same two platforms as a Docker manifest list of schema 2 manifests (--all --format v2s2)."""
    layout = Layout(scratch / "src")
    amd = layout.add_image(sample_layers("list-amd64"), arch="amd64")
    arm = layout.add_image(sample_layers("list-arm64"), arch="arm64")
    layout.add_index([amd, arm], tag="multi")
    name = repo("list")
    digestfile = scratch / "digest"
    skopeo(
        "copy",
        "--all",
        "--format",
        "v2s2",
        TLS,
        "--digestfile",
        str(digestfile),
        f"oci:{layout.path}:multi",
        f"docker://{target.ref(name, 'multi')}",
    )
    pushed = digestfile.read_text().strip()

    resp = http.get(f"/v2/{name}/manifests/multi", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == DOCKER_LIST
    assert resp.headers["docker-content-digest"] == pushed
    assert sha256_digest(resp.content) == pushed
    children = resp.json()["manifests"]
    assert [c["platform"]["architecture"] for c in children] == ["amd64", "arm64"]
    for child, image in zip(children, (amd, arm), strict=True):
        assert child["mediaType"] == DOCKER_MANIFEST
        got = http.get(f"/v2/{name}/manifests/{child['digest']}", headers={"Accept": MANIFEST_ACCEPT})
        assert got.headers["content-type"] == DOCKER_MANIFEST
        assert sha256_digest(got.content) == child["digest"]
        assert [layer["digest"] for layer in got.json()["layers"]] == [layer.digest for layer in image.layers]

    pulled = scratch / "pulled"
    skopeo("copy", "--all", SRC_TLS, f"docker://{target.ref(name, 'multi')}", f"dir:{pulled}")
    assert sha256_digest((pulled / "manifest.json").read_bytes()) == pushed
    for child, image in zip(children, (amd, arm), strict=True):
        manifest = json.loads((pulled / f"{child['digest'].split(':', 1)[1]}.manifest.json").read_bytes())
        files: dict[str, bytes] = {}
        for layer in manifest["layers"]:
            files.update(untar((pulled / layer["digest"].split(":", 1)[1]).read_bytes()))
        assert files == image.files


def test_skopeo_docker_schema2(
    skopeo: Skopeo,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    layout = Layout(scratch / "src")
    image = layout.add_image(sample_layers("v2s2"), tag="latest")
    name = repo("v2s2")
    digestfile = scratch / "digest"

    with target.meter.measure() as traffic:
        skopeo(
            "copy",
            "--format",
            "v2s2",
            TLS,
            "--digestfile",
            str(digestfile),
            f"oci:{layout.path}:latest",
            f"docker://{target.ref(name, 'latest')}",
        )
    report("skopeo v2s2 push upload style", traffic.describe_style())
    pushed = digestfile.read_text().strip()
    assert pushed != image.manifest.digest, "the manifest was converted, so its digest changes"

    resp = http.get(f"/v2/{name}/manifests/latest", headers={"Accept": DOCKER_MANIFEST})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == DOCKER_MANIFEST
    assert resp.headers["docker-content-digest"] == pushed
    assert sha256_digest(resp.content) == pushed
    manifest = resp.json()
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert [layer["digest"] for layer in manifest["layers"]] == [layer.digest for layer in image.layers]
    assert all(
        layer["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip" for layer in manifest["layers"]
    )

    # Pulled into a dir: transport the manifest arrives unconverted; layers are the same blobs.
    out = scratch / "dir"
    skopeo("copy", SRC_TLS, f"docker://{target.ref(name, pushed)}", f"dir:{out}")
    raw = (out / "manifest.json").read_bytes()
    assert sha256_digest(raw) == pushed
    files: dict[str, bytes] = {}
    for layer in json.loads(raw)["layers"]:
        blob = (out / layer["digest"].split(":", 1)[1]).read_bytes()
        assert sha256_digest(blob) == layer["digest"]
        files.update(untar(blob))
    assert files == image.files


def test_skopeo_cross_repository_mount(
    skopeo: Skopeo,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    layout = Layout(scratch / "src")
    image = layout.add_image(sample_layers("mount"), tag="v1")
    first, second = repo("first"), repo("second")

    skopeo("copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(first, 'v1')}")
    # skopeo's blob info cache now knows the blobs live in `first`: it asks the registry to
    # mount them into `second` instead of sending them again.
    with target.meter.measure() as traffic:
        result = skopeo("--debug", "copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(second, 'v1')}")
    report("skopeo second-repo push", traffic.describe_style())

    blobs = [*image.layers, image.config]
    mount_posts = [
        line
        for line in result.stderr.splitlines()
        if "POST" in line and f"/v2/{second}/blobs/uploads/" in line and "mount=" in line
    ]
    # Which blobs skopeo tries to mount depends on its blob info cache, which earlier tests of the
    # session fill too (a layer it last saw in another repository may be re-sent instead); every
    # mount it asks for must succeed, and only what it did not mount is sent.
    assert mount_posts, result.describe()
    if target.meter.available:
        assert traffic.mounts >= len(mount_posts), traffic.describe_style()
        assert traffic.count("POST", "upload_start", "201") >= len(mount_posts)
        assert traffic.uploads <= len(blobs) - len(mount_posts), traffic.describe_style()
    for blob in blobs:
        head = http.head(f"/v2/{second}/blobs/{blob.digest}")
        assert head.status_code == 200, blob.digest
        assert int(head.headers["content-length"]) == blob.size
    assert (
        http.get(f"/v2/{second}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}).headers["docker-content-digest"]
        == image.manifest.digest
    )


def test_skopeo_stale_blob_location_uploads(
    skopeo: Skopeo,
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    """skopeo remembers where it saw each blob and checks that place (HEAD) before asking for a
    mount. Once that repository has deleted its blobs, the check must say 404 so that skopeo
    uploads instead of mounting something the registry no longer holds there."""
    layout = Layout(scratch / "src")
    image = layout.add_image(sample_layers("stale"), tag="v1")
    gone, fresh = repo("gone"), repo("fresh")
    skopeo("copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(gone, 'v1')}")
    skopeo("delete", "--tls-verify=false", f"docker://{target.ref(gone, 'v1')}")
    blobs = [*image.layers, image.config]
    for blob in blobs:
        assert http.delete(f"/v2/{gone}/blobs/{blob.digest}").status_code == 202
        assert http.head(f"/v2/{gone}/blobs/{blob.digest}").status_code == 404

    with target.meter.measure() as traffic:
        result = skopeo("--debug", "copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(fresh, 'v1')}")
    report("skopeo push with stale blob locations", traffic.describe_style())
    checks = [line for line in result.stderr.splitlines() if "HEAD" in line and f"/v2/{gone}/blobs/" in line]
    assert len(checks) >= len(image.layers), result.describe()
    assert not [line for line in result.stderr.splitlines() if "mount=" in line], result.describe()
    if target.meter.available:
        assert traffic.count("HEAD", "blob", "404") >= len(checks)
        assert traffic.mounts == 0, traffic.describe_style()
        assert traffic.uploads == len(blobs), traffic.describe_style()
    out = scratch / "pulled"
    skopeo("copy", SRC_TLS, f"docker://{target.ref(fresh, 'v1')}", f"oci:{out}:v1")
    assert layout_files(out, image.manifest.digest) == image.files


def test_skopeo_umoci_layout(skopeo: Skopeo, target: Target, repo: Callable[[str], str], scratch: Path) -> None:
    """An image built by umoci (its own tar and gzip writer, its own config) round-trips too."""
    from tests.interop.harness import run  # noqa: PLC0415

    layout = scratch / "umoci"
    run(["umoci", "init", "--layout", str(layout)], timeout=30)
    run(["umoci", "new", "--image", f"{layout}:base"], timeout=30)
    bundle = scratch / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:base", str(bundle)], timeout=60)
    (bundle / "rootfs" / "greeting").write_text("built by umoci\n")
    (bundle / "rootfs" / "data").mkdir()
    (bundle / "rootfs" / "data" / "numbers").write_bytes(bytes(range(200)) * 50)
    run(["umoci", "repack", "--image", f"{layout}:base", str(bundle)], timeout=60)
    run(
        ["umoci", "config", "--image", f"{layout}:base", "--tag", "v1", "--config.label", "built.by=umoci"],
        timeout=30,
    )
    local = read_layout_ref(layout, "v1")

    name = repo("umoci")
    skopeo("copy", TLS, f"oci:{layout}:v1", f"docker://{target.ref(name, 'v1')}")
    out = scratch / "pulled"
    skopeo("copy", SRC_TLS, f"docker://{target.ref(name, 'v1')}", f"oci:{out}:v1")
    assert read_layout_ref(out, "v1")["digest"] == local["digest"]
    files = layout_files(out, str(local["digest"]))
    assert files["greeting"] == b"built by umoci\n"
    assert files["data/numbers"] == bytes(range(200)) * 50


def test_plain_http_port_answers_tls_in_plain_http(target: Target) -> None:
    """skopeo, podman and buildah try HTTPS first; the plain-HTTP port must turn that down at once
    by answering in HTTP, which their TLS stack reports as such and they fall back, or every client
    command stalls until the server gives up on a request line that never comes."""
    host, port = target.host.rsplit(":", 1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, int(port)), timeout=10) as sock,
        pytest.raises(ssl.SSLError) as refused,  # a server that waits instead times out: not an SSLError
    ):
        ctx.wrap_socket(sock, server_hostname=host)
    # The handshake failed on an answer that is not TLS, not on a connection closed without one.
    assert not isinstance(refused.value, ssl.SSLEOFError), refused.value
    # And the port is still fine for plain HTTP afterwards.
    assert httpx.get(target.url + "/v2/", timeout=5).status_code == 200


def test_skopeo_concurrent_pushes_share_blobs(
    skopeo: Skopeo, target: Target, repo: Callable[[str], str], scratch: Path, http: httpx.Client
) -> None:
    """Three skopeo processes push the same ten-layer image at once (each pushes its layers in
    parallel too): the same blobs race into one repository and into a nested one."""
    layout = Layout(scratch / "src")
    layers = [{f"layer{i}/data": f"layer {i} ".encode() * (200 + i)} for i in range(10)]
    image = layout.add_image(layers, tag="v1")
    shared, nested = repo("shared"), repo("deep") + "/sub/dir/image"
    destinations = [(shared, "one"), (shared, "two"), (nested, "three")]

    with ThreadPoolExecutor(max_workers=len(destinations)) as pool:
        futures = [
            pool.submit(skopeo, "copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(name, tag)}")
            for name, tag in destinations
        ]
        results = [f.result() for f in futures]
    assert all(r.returncode == 0 for r in results)

    for name, tag in destinations:
        resp = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
        assert resp.status_code == 200, (name, tag)
        assert resp.headers["docker-content-digest"] == image.manifest.digest
        for layer in image.layers:
            head = http.head(f"/v2/{name}/blobs/{layer.digest}")
            assert head.status_code == 200
            assert int(head.headers["content-length"]) == layer.size
    assert sorted(http.get(f"/v2/{shared}/tags/list").json()["tags"]) == ["one", "two"]

    out = scratch / "pulled"
    skopeo("copy", SRC_TLS, f"docker://{target.ref(nested, 'three')}", f"oci:{out}:v1")
    assert layout_files(out, image.manifest.digest) == image.files
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{target.host}/{nested}").stdout)
    assert tags["Tags"] == ["three"]


def test_skopeo_lists_many_and_unusual_tags(
    skopeo: Skopeo, target: Target, repo: Callable[[str], str], scratch: Path, http: httpx.Client
) -> None:
    """skopeo follows the registry's Link pages (if it sends any) to list 150 tags, and tags
    using every allowed character class and the maximal length of 128 survive the round trip."""
    layout = Layout(scratch / "src")
    image = layout.add_image(sample_layers("tags"), tag="v1")
    name = repo("tags")
    skopeo("copy", TLS, f"oci:{layout.path}:v1", f"docker://{target.ref(name, 'v1')}")
    raw = http.get(f"/v2/{name}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}).content
    odd = ["Release_1.0-RC.1", "_leading_underscore", "x" * 128]
    for tag in odd:
        skopeo("copy", SRC_TLS, TLS, f"docker://{target.ref(name, 'v1')}", f"docker://{target.ref(name, tag)}")
    many = [f"build-{i:04d}" for i in range(146)]
    with httpx.Client(base_url=target.url, timeout=30) as client:
        for tag in many:
            put = client.put(f"/v2/{name}/manifests/{tag}", content=raw, headers={"Content-Type": OCI_MANIFEST})
            assert put.status_code == 201, put.text
    expected = sorted(["v1", *odd, *many])
    assert len(expected) == 150

    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{target.host}/{name}").stdout)
    assert sorted(listed["Tags"]) == expected
    for tag in odd:
        out = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target.ref(name, tag)}").stdout)
        assert out["Digest"] == image.manifest.digest
