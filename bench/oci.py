"""Registry operations the workloads and the seeding are built from (OCI Distribution Spec v1.1)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.http import Conn, HttpError, Response

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def sha256_digest(data: bytes | bytearray | memoryview) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Blob:
    data: bytes | bytearray | memoryview
    digest: str

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> Blob:
        return cls(data, sha256_digest(data))

    @property
    def size(self) -> int:
        return len(self.data)


def _expect(resp: Response, ok: tuple[int, ...], what: str) -> Response:
    if resp.status not in ok:
        raise HttpError(f"{what}: HTTP {resp.status} {resp.body[:300]!r}")
    return resp


def _location_path(location: str) -> str:
    parts = urlsplit(location)
    path = parts.path
    if parts.query:
        path += "?" + parts.query
    return path


def _with_param(path: str, param: str) -> str:
    return path + ("&" if "?" in path else "?") + param


def start_upload(conn: Conn, repo: str) -> str:
    resp = _expect(conn.request("POST", f"/v2/{repo}/blobs/uploads/"), (202,), f"POST upload {repo}")
    return _location_path(resp.header("location"))


def push_blob_monolithic(conn: Conn, repo: str, blob: Blob) -> None:
    """POST to open an upload session, then one PUT carrying the whole body and the digest."""
    loc = start_upload(conn, repo)
    _expect(
        conn.request(
            "PUT",
            _with_param(loc, f"digest={blob.digest}"),
            {"Content-Type": "application/octet-stream"},
            blob.data,
        ),
        (201,),
        f"PUT blob {repo}",
    )


def push_blob_patch(conn: Conn, repo: str, blob: Blob) -> None:
    """The way skopeo and containers/image push: POST, one PATCH with the whole body, empty PUT."""
    loc = start_upload(conn, repo)
    resp = _expect(
        conn.request("PATCH", loc, {"Content-Type": "application/octet-stream"}, blob.data),
        (202,),
        f"PATCH blob {repo}",
    )
    loc = _location_path(resp.header("location")) or loc
    _expect(conn.request("PUT", _with_param(loc, f"digest={blob.digest}")), (201,), f"PUT blob {repo}")


def blob_exists(conn: Conn, repo: str, digest: str) -> bool:
    return conn.request("HEAD", f"/v2/{repo}/blobs/{digest}").status == 200


def mount_blob(conn: Conn, repo: str, digest: str, source: str) -> bool:
    """Cross-repository mount; False when the registry answered with an upload session instead."""
    resp = conn.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}")
    if resp.status == 201:
        return True
    if resp.status == 202:
        # an upload session we won't use: cancel it so it does not linger
        loc = resp.header("location")
        if loc:
            conn.request("DELETE", _location_path(loc))
        return False
    raise HttpError(f"mount {digest} into {repo}: HTTP {resp.status}")


def ensure_blob(conn: Conn, repo: str, blob: Blob, source: str | None = None) -> None:
    if blob_exists(conn, repo, blob.digest):
        return
    if source and mount_blob(conn, repo, blob.digest, source):
        return
    push_blob_monolithic(conn, repo, blob)


def image_manifest(config: Blob, layers: list[Blob], annotation: str | None = None) -> bytes:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers],
    }
    if annotation:
        doc["annotations"] = {"org.example.bench": annotation}
    return json.dumps(doc, separators=(",", ":")).encode()


def config_blob(tag: str) -> Blob:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {"bench": tag}},
    }
    return Blob.of(json.dumps(doc, separators=(",", ":")).encode())


def put_manifest(conn: Conn, repo: str, ref: str, manifest: bytes) -> str:
    resp = _expect(
        conn.request("PUT", f"/v2/{repo}/manifests/{ref}", {"Content-Type": OCI_MANIFEST}, manifest),
        (201,),
        f"PUT manifest {repo}:{ref}",
    )
    return resp.header("docker-content-digest") or sha256_digest(manifest)


def get_manifest(conn: Conn, repo: str, ref: str) -> Response:
    return _expect(
        conn.request("GET", f"/v2/{repo}/manifests/{ref}", {"Accept": ACCEPT}),
        (200,),
        f"GET manifest {repo}:{ref}",
    )


def get_blob(conn: Conn, repo: str, digest: str, sink: bool = True) -> Response:
    """GET a blob, following one redirect (to the same server) if the registry sends one."""
    resp = conn.request("GET", f"/v2/{repo}/blobs/{digest}", sink=sink)
    if resp.status in (301, 302, 303, 307, 308):
        resp = conn.request("GET", _location_path(resp.header("location")), sink=sink)
    return _expect(resp, (200,), f"GET blob {repo}@{digest}")


def next_link(resp: Response) -> str | None:
    """The path of a Link: <...>; rel="next" header, if any."""
    for value in resp.links:
        for part in value.split(","):
            if 'rel="next"' in part or "rel=next" in part:
                start, end = part.find("<"), part.find(">")
                if start >= 0 and end > start:
                    return _location_path(part[start + 1 : end])
    return None


def list_paged(conn: Conn, first: str, key: str) -> tuple[int, int]:
    """Follow Link headers from the first path to the end: (items seen, requests made)."""
    path: str | None = first
    items = 0
    requests = 0
    while path is not None and requests < 100_000:
        resp = _expect(conn.request("GET", path), (200,), f"GET {path}")
        requests += 1
        items += len(json.loads(resp.body).get(key) or [])
        path = next_link(resp)
    return items, requests
