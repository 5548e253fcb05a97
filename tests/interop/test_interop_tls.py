"""Clients that trust a private CA, against dockyard over HTTPS with authentication on, in Basic
and in token mode (`secured_tls`): the server certificate for 127.0.0.1 is signed by a CA made for
the test; skopeo and podman trust it through --cert-dir and refuse the server without it."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.interop.auth import SecuredRegistry, TlsFiles, parse_challenge
from tests.interop.clients import ContainersConfig, Skopeo, StorageTool
from tests.interop.docker import DockerClient, check_stored, small_image
from tests.interop.harness import Result, sha256_digest, small_layout, tar_bytes

pytestmark = pytest.mark.interop

UNTRUSTED = ("x509", "certificate", "unknown authority")


def tls_of(secured: SecuredRegistry) -> TlsFiles:
    assert secured.tls is not None
    return secured.tls


def untrusted(result: Result) -> None:
    """The client refused the server's certificate."""
    assert result.returncode != 0, result.describe()
    assert any(word in result.stderr.lower() for word in UNTRUSTED), result.describe()


def test_challenge_and_realm_over_https(secured_tls: SecuredRegistry) -> None:
    url = secured_tls.target.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v2/", timeout=10)
    trusted = ssl.create_default_context(cafile=str(tls_of(secured_tls).ca_cert))
    resp = httpx.get(url + "/v2/", verify=trusted, timeout=10)
    assert resp.status_code == 401
    scheme, params = parse_challenge(resp.headers["www-authenticate"])
    if secured_tls.mode == "token":
        assert scheme == "bearer"
        assert params["realm"] == f"{url}/auth/token", "the realm must be on https, where the client came"
    else:
        assert scheme == "basic"
    with secured_tls.http() as http:
        assert http.get("/v2/").status_code == 200


def test_skopeo_trusts_the_private_ca(secured_tls: SecuredRegistry, repo: Callable[[str], str], scratch: Path) -> None:
    tls = tls_of(secured_tls)
    skopeo = Skopeo(ContainersConfig(scratch / "c", secured_tls.target.host, insecure=False))
    layout, digest = small_layout(scratch / "layout", "skopeo over TLS")
    name = repo("skopeo")
    dest = f"docker://{secured_tls.target.ref(name, 'v1')}"
    writer = secured_tls.writer.joined

    untrusted(skopeo("copy", "--dest-creds", writer, f"oci:{layout.path}:v1", dest, check=False))
    digestfile = scratch / "digest"
    skopeo("copy", "--dest-cert-dir", str(tls.cert_dir), "--dest-creds", writer, "--digestfile", str(digestfile),
           f"oci:{layout.path}:v1", dest)  # fmt: skip
    assert digestfile.read_text().strip() == digest
    assert secured_tls.digest_of(name, "v1") == digest

    untrusted(skopeo("inspect", "--raw", "--creds", secured_tls.reader.joined, dest, check=False))
    raw = skopeo("inspect", "--raw", "--cert-dir", str(tls.cert_dir), "--creds", secured_tls.reader.joined, dest)
    assert sha256_digest(raw.stdout.encode()) == digest


def test_podman_login_trusts_the_private_ca(
    secured_tls: SecuredRegistry, repo: Callable[[str], str], scratch: Path
) -> None:
    tls, host = tls_of(secured_tls), secured_tls.target.host
    podman = StorageTool("podman", ContainersConfig(scratch / "c", host, insecure=False))
    writer = secured_tls.writer
    credentials = ("-u", writer.user, "--password-stdin", host)

    untrusted(podman("login", *credentials, stdin=writer.password, check=False))
    podman("login", "--cert-dir", str(tls.cert_dir), *credentials, stdin=writer.password)
    assert host in json.loads((podman.conf.root / "auth.json").read_text())["auths"]

    (scratch / "rootfs.tar").write_bytes(tar_bytes({"hello": b"pushed by podman over TLS\n"}))
    podman("import", str(scratch / "rootfs.tar"), "localhost/dockyard-tls:latest")
    name = repo("podman")
    digestfile = scratch / "digest"
    podman("push", "--cert-dir", str(tls.cert_dir), "--digestfile", str(digestfile),
           "localhost/dockyard-tls:latest", f"docker://{secured_tls.target.ref(name, 'v1')}")  # fmt: skip
    assert secured_tls.digest_of(name, "v1") == digestfile.read_text().strip()


def test_docker_login_push_pull_over_https(
    secured_tls: SecuredRegistry, docker: DockerClient, repo: Callable[[str], str], scratch: Path
) -> None:
    """docker over HTTPS, the token realm on https in token mode.

    dockerd treats every 127.0.0.0/8 registry as insecure (hard-wired; no option removes it), which
    for an https registry means TLS without verifying the certificate: against a loopback
    registry docker cannot show CA trust, so skopeo and podman above do.
    """
    host = secured_tls.target.host
    name = repo("docker")
    ref = secured_tls.target.ref(name, "v1")
    image_id, files = small_image(docker, scratch, ref, "tls")
    docker.login(host, secured_tls.writer)
    digest, _ = docker.push(ref)
    with secured_tls.http() as http:
        check_stored(http, name, "v1", digest, image_id, files)
    docker("rmi", ref)
    docker("pull", secured_tls.target.ref(name, digest))
    docker("logout", host)
