"""The servers the API fuzz speaks to, what is seeded in them, and the credentials it may send.

Three targets: a server with authentication off, one in Basic mode (on PostgreSQL) and one in token
mode. The content seeded in each is the same fixed bytes, so its digests are known before any server
starts and the strategies can aim at them; upload sessions get their ids from the server, and are
opened anew before each operation is fuzzed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.auth.support import basic, fetch_token, start_server
from tests.http.ocitest import (
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_LAYER,
    RegistryClient,
    descriptor,
    digest_of,
)
from tests.http.ocitest import image_manifest as image_manifest_bytes
from tests.support.server import DockyardServer

REPOSITORY = "fuzz/seeded"
OTHER_REPOSITORY = "fuzz/other"
TAG = "v1"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
LAYER = b"a layer the fuzz can aim at"
ARTIFACT_PAYLOAD = b"an artifact about the image"
IMAGE = image_manifest_bytes(descriptor(CONFIG, OCI_CONFIG), [descriptor(LAYER, OCI_LAYER)])
IMAGE_DESCRIPTOR = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": digest_of(IMAGE),
    "size": len(IMAGE),
}
ARTIFACT = image_manifest_bytes(
    descriptor(EMPTY_JSON, OCI_EMPTY),
    [descriptor(ARTIFACT_PAYLOAD, "application/octet-stream")],
    artifact_type="application/vnd.example.sbom",
    subject=IMAGE_DESCRIPTOR,
)
BLOBS = (CONFIG, LAYER, EMPTY_JSON, ARTIFACT_PAYLOAD)
BLOB_DIGESTS = tuple(digest_of(blob) for blob in BLOBS)
MANIFEST_DIGESTS = (digest_of(IMAGE), digest_of(ARTIFACT))
SESSIONS_PER_OPERATION = 3
_UPLOAD_ID = re.compile(r"/blobs/uploads/([^/?]+)")
DatabaseFactory = Callable[[], dict[str, str]]
LIVE_UPLOADS: list[str] = []
"""Ids of the upload sessions the last `seed` opened (the fuzz may finish or cancel them)."""


@dataclass
class Target:
    """A server under fuzz, and what a request may carry to it."""

    name: str
    server: DockyardServer
    credentials: dict[str, str] = field(default_factory=dict)
    """Authorization header values by kind ("valid", "wrong"); none when auth is off."""
    log_offset: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> RegistryClient:
        client = RegistryClient(self.url)
        if "valid" in self.credentials:
            client.http.headers["Authorization"] = self.credentials["valid"]
        return client

    def seed(self) -> None:
        """Push the seeded image, its referrer and tag (again: the fuzz deletes things), and open
        fresh upload sessions in both repositories."""
        with self.client() as client:
            for repository in (REPOSITORY, OTHER_REPOSITORY):
                for blob in BLOBS:
                    client.push_blob(repository, blob)
                client.push_manifest(repository, TAG, IMAGE)
                client.push_manifest(repository, None, ARTIFACT)
            LIVE_UPLOADS[:] = [
                _UPLOAD_ID.search(client.open_session(repository)).group(1)  # type: ignore[union-attr]
                for repository in (REPOSITORY, OTHER_REPOSITORY)
                for _ in range(SESSIONS_PER_OPERATION)
            ]

    def new_log(self) -> str:
        """What the server logged since the last call."""
        with self.server.log_path.open("rb") as log:
            log.seek(self.log_offset)
            text = log.read()
        self.log_offset += len(text)
        return text.decode(errors="replace")


def _stop(server: DockyardServer) -> None:
    """Stop the server; it must not have logged a traceback at any time (background work included)."""
    server.stop()
    log = server.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:4000]


def open_target(directory: Path) -> Iterator[Target]:
    server = DockyardServer(directory / "data").start()
    try:
        yield Target("open", server)
    finally:
        _stop(server)


def basic_target(directory: Path, env: dict[str, str]) -> Iterator[Target]:
    server = start_server(directory, token_mode=False, env=env)
    try:
        yield Target(
            "basic", server, {"valid": basic("admin")["Authorization"], "wrong": basic("admin", "x")["Authorization"]}
        )
    finally:
        _stop(server)


def token_target(directory: Path) -> Iterator[Target]:
    # Tokens outlive the run; the fuzz sends the one fetched here with every "valid" request.
    server = start_server(directory, token_mode=True, token={"expiry_seconds": 3600})
    try:
        scopes = [f"repository:{name}:pull,push,delete" for name in (REPOSITORY, OTHER_REPOSITORY)]
        token = fetch_token(server.url, "admin", *scopes, "registry:catalog:*")
        yield Target("token", server, {"valid": f"Bearer {token}", "wrong": f"Bearer {token[:-8]}AAAAAAAA"})
    finally:
        _stop(server)


def check_wire_error(method: str, status: int, content_type: str | None, body: bytes) -> None:
    """Every refusal carries the spec's error body (HEAD answers carry none)."""
    if status < 400 or method == "HEAD":
        return
    assert content_type == "application/json", f"{status} with Content-Type {content_type!r}"
    document = json.loads(body)
    assert isinstance(document, dict)
    errors = document.get("errors")
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert isinstance(error.get("code"), str)
        assert isinstance(error.get("message"), str)
