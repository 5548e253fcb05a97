"""A small OCI distribution client for dockyard's HTTP tests.

It speaks the wire protocol directly (httpx, no registry library) so that each test reads as the
request it makes and the answer it expects. Builders produce manifests as exact bytes, because the
registry must store and serve the bytes it received, not a re-serialisation.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_NONDIST_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_JSON = b"{}"
# Every error code the distribution specification defines.
SPEC_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)
UPLOAD_RANGE = re.compile(r"^0-(\d+)$")


def with_query(location: str, **params: str) -> httpx.URL:
    """`location` with `params` added to (not replacing) the query it already carries."""
    return httpx.URL(location).copy_merge_params(params)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def unused_digest(algorithm: str = "sha256", seed: str = "nothing was ever pushed with this") -> str:
    """A well-formed digest of content that no test uploads."""
    return digest_of(seed.encode(), algorithm)


def descriptor(content: bytes, media_type: str, algorithm: str = "sha256", **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(content, algorithm), "size": len(content), **extra}


def manifest_descriptor(body: bytes, media_type: str = OCI_MANIFEST, **extra: Any) -> dict[str, Any]:
    return descriptor(body, media_type, **extra)


def dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False).encode()


def image_manifest(
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    *,
    media_type: str = OCI_MANIFEST,
    subject: dict[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    document["config"] = config
    document["layers"] = layers
    if subject is not None:
        document["subject"] = subject
    if annotations is not None:
        document["annotations"] = annotations
    document.update(extra or {})
    return dumps(document)


def index_manifest(
    children: list[dict[str, Any]],
    *,
    media_type: str = OCI_INDEX,
    subject: dict[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    document["manifests"] = children
    if subject is not None:
        document["subject"] = subject
    if annotations is not None:
        document["annotations"] = annotations
    return dumps(document)


def error_codes(response: httpx.Response) -> list[str]:
    """The `code` of every error in a spec-shaped error body (asserting the shape on the way)."""
    assert "traceback" not in response.text.lower(), response.text
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(
            f"{response.status_code} body is not a JSON error document: {response.text[:200]!r}"
        ) from None
    assert isinstance(body, dict), body
    errors = body.get("errors")
    assert isinstance(errors, list), body
    assert errors, body
    for error in errors:
        assert isinstance(error, dict), body
        assert isinstance(error.get("code"), str), body
        assert isinstance(error.get("message", ""), str), body
    return [error["code"] for error in errors]


def assert_error(response: httpx.Response, status: int | tuple[int, ...], code: str) -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url}: expected {statuses} {code}, "
        f"got {response.status_code} {response.text[:300]!r}"
    )
    codes = error_codes(response)
    assert code in codes, f"expected {code} in {codes}"


def assert_client_error(response: httpx.Response) -> None:
    """A clean 4xx: never a 5xx, never a traceback, a spec error body when the body is JSON."""
    assert 400 <= response.status_code < 500, (
        f"{response.request.method} {response.request.url}: got {response.status_code} {response.text[:300]!r}"
    )
    assert "traceback" not in response.text.lower()
    if response.request.method == "HEAD":
        assert response.content == b"", "a HEAD answer carries no body"
    elif response.headers.get("content-type", "").startswith("application/json"):
        assert set(error_codes(response)) <= SPEC_ERROR_CODES


def upload_end(response: httpx.Response) -> int:
    """The last byte offset an upload response reports in its `Range: 0-<end>` header."""
    value = response.headers.get("range")
    assert value is not None, f"no Range header in {response.status_code} {dict(response.headers)}"
    match = UPLOAD_RANGE.match(value)
    assert match, f"Range must be of the form 0-<end>, got {value!r}"
    return int(match.group(1))


def seeded_chunks(seed: int, size: int, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Deterministic pseudo-random content of `size` bytes, produced one chunk at a time.

    One random block is drawn from the seed; each chunk is that block with its own index stamped
    at the front, so no two chunks are equal and nothing larger than a chunk is ever in memory.
    """
    block = hashlib.shake_256(f"dockyard-seed-{seed}".encode()).digest(chunk_size)
    produced, index = 0, 0
    while produced < size:
        stamp = index.to_bytes(8, "big") + seed.to_bytes(8, "big")
        chunk = stamp + block[len(stamp) :]
        chunk = chunk[: size - produced]
        produced += len(chunk)
        index += 1
        yield chunk


def seeded_digest(seed: int, size: int, algorithm: str = "sha256", chunk_size: int = 1 << 20) -> str:
    hasher = hashlib.new(algorithm)
    for chunk in seeded_chunks(seed, size, chunk_size):
        hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def sliced(chunks: Iterable[bytes], start: int, stop: int) -> Iterator[bytes]:
    """The bytes [start, stop) of a chunk stream, without materialising it."""
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        if end > start and offset < stop:
            yield chunk[max(0, start - offset) : min(len(chunk), stop - offset)]
        offset = end
        if offset >= stop:
            return


@dataclass
class Pushed:
    """A manifest as pushed: its exact bytes, media type and digest."""

    body: bytes
    media_type: str
    digest: str
    response: httpx.Response | None = None

    @property
    def headers(self) -> httpx.Headers:
        """The headers of the registry's answer to the push."""
        assert self.response is not None, "this manifest was never pushed"
        return self.response.headers

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.body), **extra}


class RegistryClient:
    """Thin wrapper over httpx.Client with the operations registry clients perform."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw verbs ---------------------------------------------------------------------------
    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.head(url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.delete(url, **kwargs)

    # -- uploads -----------------------------------------------------------------------------
    def start_upload(self, repo: str, **params: str) -> httpx.Response:
        return self.http.post(f"/v2/{repo}/blobs/uploads/", params=params or None)

    def open_session(self, repo: str) -> str:
        """POST an upload session and return its Location."""
        response = self.start_upload(repo)
        assert response.status_code == 202, f"POST upload: {response.status_code} {response.text}"
        location = response.headers.get("location")
        assert location, "POST upload answered without Location"
        return location

    def patch(
        self,
        location: str,
        data: bytes | Iterable[bytes],
        content_range: str | None = None,
        content_length: int | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream"}
        if content_range is not None:
            headers["Content-Range"] = content_range
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        return self.http.patch(location, content=data, headers=headers)

    def finish(
        self,
        location: str,
        digest: str,
        data: bytes | Iterable[bytes] = b"",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"Content-Type": "application/octet-stream", **(headers or {})}
        return self.http.put(with_query(location, digest=digest), content=data, headers=all_headers)

    def upload_status(self, location: str) -> httpx.Response:
        return self.http.get(location)

    def push_blob(self, repo: str, data: bytes, algorithm: str = "sha256") -> str:
        """POST a session then PUT the whole blob: the flow most clients use."""
        digest = digest_of(data, algorithm)
        response = self.finish(self.open_session(repo), digest, data)
        assert response.status_code == 201, f"PUT blob: {response.status_code} {response.text}"
        return digest

    def push_blob_monolithic(self, repo: str, data: bytes, algorithm: str = "sha256") -> httpx.Response:
        return self.http.post(
            f"/v2/{repo}/blobs/uploads/",
            params={"digest": digest_of(data, algorithm)},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def blob_url(self, repo: str, digest: str) -> str:
        return f"/v2/{repo}/blobs/{digest}"

    def get_blob(self, repo: str, digest: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(self.blob_url(repo, digest), **kwargs)

    # -- manifests ---------------------------------------------------------------------------
    def put_manifest(
        self,
        repo: str,
        reference: str,
        body: bytes,
        media_type: str = OCI_MANIFEST,
        params: list[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        return self.http.put(
            f"/v2/{repo}/manifests/{reference}",
            content=body,
            headers={"Content-Type": media_type},
            params=params,
        )

    def push_manifest(
        self,
        repo: str,
        reference: str | None,
        body: bytes,
        media_type: str = OCI_MANIFEST,
        algorithm: str = "sha256",
    ) -> Pushed:
        """PUT a manifest (by digest when no reference is given) and require 201."""
        digest = digest_of(body, algorithm)
        response = self.put_manifest(repo, reference or digest, body, media_type)
        assert response.status_code == 201, (
            f"PUT manifest {repo}:{reference}: {response.status_code} {response.text[:500]}"
        )
        return Pushed(body=body, media_type=media_type, digest=digest, response=response)

    def get_manifest(self, repo: str, reference: str, accept: str | None = None) -> httpx.Response:
        accept = accept or ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
        return self.http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})

    def push_image(
        self,
        repo: str,
        tag: str | None,
        *,
        layers: int = 1,
        seed: str = "",
        media_type: str = OCI_MANIFEST,
        subject: dict[str, Any] | None = None,
        artifact_type: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> Pushed:
        """Push a config, `layers` small layers and an image manifest referencing them."""
        docker = media_type == DOCKER_MANIFEST
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": f"{repo}/{tag}/{seed}"}).encode()
        self.push_blob(repo, config)
        layer_descs = []
        for number in range(layers):
            layer = f"layer {number} of {repo}:{tag} {seed}".encode()
            self.push_blob(repo, layer)
            layer_descs.append(descriptor(layer, DOCKER_LAYER if docker else OCI_LAYER))
        body = image_manifest(
            descriptor(config, DOCKER_CONFIG if docker else OCI_CONFIG),
            layer_descs,
            media_type=media_type,
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )
        return self.push_manifest(repo, tag, body, media_type)

    def push_artifact(
        self,
        repo: str,
        subject: Pushed | None,
        artifact_type: str,
        *,
        annotations: dict[str, str] | None = None,
        payload: bytes = b"artifact payload",
        tag: str | None = None,
    ) -> Pushed:
        """An artifact manifest: `artifactType`, the empty config, one blob, optionally a subject."""
        self.push_blob(repo, EMPTY_JSON)
        self.push_blob(repo, payload)
        body = image_manifest(
            descriptor(EMPTY_JSON, OCI_EMPTY),
            [descriptor(payload, "application/octet-stream")],
            artifact_type=artifact_type,
            annotations=annotations,
            subject=subject.descriptor() if subject else None,
        )
        return self.push_manifest(repo, tag, body)

    # -- listings ----------------------------------------------------------------------------
    def tags(self, repo: str, **params: str | int) -> httpx.Response:
        return self.http.get(f"/v2/{repo}/tags/list", params=params or None)

    def referrers(self, repo: str, digest: str, **params: str) -> httpx.Response:
        return self.http.get(f"/v2/{repo}/referrers/{digest}", params=params or None)

    def follow_pages(self, url: str, params: dict[str, str | int], key: str, limit: int = 1000) -> list[str]:
        """Walk a paginated listing by its Link headers and return every item, in order."""
        items: list[str] = []
        response = self.http.get(url, params=params)
        for _ in range(limit):
            assert response.status_code == 200, response.text
            items.extend(response.json()[key] or [])
            link = next_link(response)
            if link is None:
                return items
            response = self.http.get(link)
        raise AssertionError(f"pagination of {url} did not end within {limit} pages")


LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(response: httpx.Response) -> str | None:
    """The target of an RFC 5988 `Link: <...>; rel="next"` header, if any."""
    header = response.headers.get("link")
    if header is None:
        return None
    match = LINK.search(header)
    assert match, f"Link header without rel=next: {header!r}"
    return match.group(1)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(base_url: str, method: str, target: bytes, body: bytes = b"", timeout: float = 10.0) -> RawResponse:
    """Send a request line exactly as given (no client-side path normalisation or validation)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        method.encode()
        + b" "
        + target
        + b" HTTP/1.1\r\n"
        + f"Host: {host}:{port}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        data = response.read()
        return RawResponse(status=response.status, headers={k.lower(): v for k, v in response.getheaders()}, body=data)
