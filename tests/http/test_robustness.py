"""Malformed names, digests, references, headers and bodies: always a clean 4xx.

Requests here go out byte-exact over a raw socket, so that `..`, encoded dots, doubled slashes and
NUL bytes reach the server the way a hostile client would send them.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.conftest import Registry
from tests.http.ocitest import RawResponse, RegistryClient, assert_client_error, digest_of, raw_request
from tests.support.tls_hello import answer_to_tls_hello

ZERO = "sha256:" + "0" * 64
ESCAPE = "dockyard-escape-probe"

READ_TARGETS = [
    f"/v2/../../../../etc/passwd/blobs/{ZERO}",
    f"/v2/%2e%2e/%2e%2e/%2e%2e/etc/blobs/{ZERO}",
    f"/v2/a/%2e%2e/%2e%2e/%2e%2e/blobs/{ZERO}",
    f"/v2/a/..%2f..%2f..%2fetc/blobs/{ZERO}",
    f"/v2//etc/passwd/blobs/{ZERO}",
    f"/v2/%2fetc%2fpasswd/blobs/{ZERO}",
    f"/v2/a%00b/blobs/{ZERO}",
    "/v2/repo/blobs/sha256:../../../../etc/passwd",
    "/v2/repo/blobs/sha256:..%2f..%2f..%2fetc%2fpasswd",
    "/v2/repo/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/v2/repo/manifests/..%2f..%2f..%2fetc%2fpasswd",
    "/v2/repo/manifests/%2e%2e",
    "/v2/repo/manifests/sha256:..%2f..%2fx",
    "/v2/../../../etc/passwd/tags/list",
    "/v2/repo/referrers/..%2f..%2fetc",
    "/v2/repo/blobs/uploads/..%2f..%2f..%2fetc%2fpasswd",
    "/v2/repo/blobs/uploads/%00",
    "/v2/" + "a" * 5000 + "/tags/list",
    "/v2/" + "a/" * 2000 + "b/manifests/latest",
    "/v2/repo/manifests/" + "t" * 5000,
    "/v2/repo/blobs/sha256:" + "0" * 5000,
    "/v2/_catalog?n=abc",
    "/v2/_catalog?n=-5",
]

WRITE_TARGETS = [
    ("POST", f"/v2/..%2f..%2f..%2f{ESCAPE}/blobs/uploads/"),
    ("POST", f"/v2/%2e%2e/%2e%2e/{ESCAPE}/blobs/uploads/"),
    ("POST", f"/v2/../../{ESCAPE}/blobs/uploads/"),
    ("POST", f"/v2/{ESCAPE}%00/blobs/uploads/"),
    ("POST", f"/v2/repo/blobs/uploads/?digest=sha256:..%2f..%2f{ESCAPE}"),
    ("POST", f"/v2/repo/blobs/uploads/?mount=sha256:..%2f..%2f{ESCAPE}&from=..%2f..%2f{ESCAPE}"),
    ("PUT", f"/v2/repo/manifests/..%2f..%2f..%2f{ESCAPE}"),
    ("PUT", f"/v2/..%2f..%2f{ESCAPE}/manifests/latest"),
    ("PUT", f"/v2/repo/manifests/sha256:..%2f..%2f{ESCAPE}"),
    ("PATCH", f"/v2/repo/blobs/uploads/..%2f..%2f..%2f{ESCAPE}"),
    ("PUT", f"/v2/repo/blobs/uploads/..%2f..%2f{ESCAPE}?digest={digest_of(b'x')}"),
    ("DELETE", f"/v2/repo/blobs/uploads/..%2f..%2f{ESCAPE}"),
    ("DELETE", f"/v2/..%2f..%2f{ESCAPE}/manifests/latest"),
    ("DELETE", "/v2/repo/blobs/sha256:..%2f..%2f..%2fetc%2fpasswd"),
]


def assert_clean_rejection(response: RawResponse, target: str) -> None:
    text = response.body.decode(errors="replace")
    assert 400 <= response.status < 500, f"{target}: {response.status} {text[:300]!r}"
    assert "traceback" not in text.lower()
    assert "root:x:" not in text
    for private in ("/work/", "/tmp/"):
        assert private not in text, f"{target} leaks a path: {text[:300]!r}"


def escaped_paths(data_dir: Path) -> list[Path]:
    roots = [data_dir.parent, Path("/tmp"), Path("/")]
    found: list[Path] = []
    for root in roots:
        for entry in root.iterdir() if root.exists() else []:
            if ESCAPE in entry.name:
                found.append(entry)
    for entry in data_dir.parent.rglob(f"*{ESCAPE}*"):
        if data_dir not in entry.parents:
            found.append(entry)
    return found


@pytest.fixture
def seeded(client: RegistryClient) -> None:
    client.push_image("repo", "latest")


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("target", READ_TARGETS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_hostile_read_paths_are_clean_4xx(registry: Registry, method: str, target: str) -> None:
    assert_clean_rejection(raw_request(registry.url, method, target.encode()), target)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("method", "target"), WRITE_TARGETS)
def test_hostile_write_paths_are_clean_4xx_and_write_nothing_outside(
    registry: Registry, method: str, target: str
) -> None:
    body = b'{"schemaVersion":2}' if method == "PUT" else b"payload"
    assert_clean_rejection(raw_request(registry.url, method, target.encode(), body), target)
    if registry.server is not None:
        assert escaped_paths(registry.server.data_dir) == []


@pytest.mark.parametrize(
    "target",
    [b"/v2/a\x00b/tags/list", b"/v2/repo/manifests/lat\x00est", b"/v2/repo/blobs/sha256:\x00" + b"0" * 63],
)
def test_raw_nul_bytes_in_the_request_line_are_rejected(registry: Registry, target: bytes) -> None:
    assert_clean_rejection(raw_request(registry.url, "GET", target), repr(target))


def test_non_numeric_content_length_is_rejected(registry: Registry) -> None:
    parts = urlsplit(registry.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v2/repo/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer == b"" or answer.split(b" ")[1].startswith(b"4"), answer[:200]


def test_tls_client_hello_on_the_plain_port_gets_an_http_error(registry: Registry) -> None:
    """The server answers the ClientHello itself, with 400, rather than wait for a request line that
    never comes (and close on a timer, silently or with 408): a client trying HTTPS first learns at
    once that the port speaks plain HTTP."""
    parts = urlsplit(registry.url)
    answer = answer_to_tls_hello(parts.hostname or "127.0.0.1", parts.port or 80)
    assert re.match(rb"HTTP/1\.[01] 400 ", answer), answer[:100]
    assert RegistryClient(registry.url).get("/v2/").status_code == 200


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/vnd.oci.image.index.v1+json"])
def test_manifest_with_unusable_content_type_is_a_client_error(
    client: RegistryClient, repo: str, content_type: str
) -> None:
    pushed = client.push_image(repo, "source")
    response = client.http.put(
        f"/v2/{repo}/manifests/target", content=pushed.body, headers={"Content-Type": content_type}
    )
    assert_client_error(response)
    assert client.get_manifest(repo, "target").status_code == 404


@pytest.mark.parametrize("name", ["a" * 256, "a/" * 128 + "a"])
def test_over_long_names_on_reads_are_4xx(client: RegistryClient, name: str) -> None:
    for response in (client.tags(name), client.get_manifest(name, "latest"), client.get_blob(name, ZERO)):
        assert_client_error(response)
