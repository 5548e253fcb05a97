"""Clients for the GC race tests: pushes that retry as real clients do, and a full audit of a registry."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field

from tests.http.ocitest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    RegistryClient,
    descriptor,
    digest_of,
    error_codes,
    image_manifest,
    index_manifest,
)

SHARED_LAYERS = [f"layer shared by everyone {number}".encode() * 50 for number in range(6)]
RETRIES = 20
# Another instance's change reaches this one's lookup cache within this (bench.staleness: at most
# 61 ms measured on PostgreSQL); a check of what the collector just did waits that long first.
INSTANCES_AGREE_SECONDS = 0.2


@dataclass
class Ledger:
    """What the clients pushed, shared by their threads."""

    pushed: set[tuple[str, str]] = field(default_factory=set)
    # Manifests a client deleted itself: an index may still name one (deleting a tagged index's
    # child is allowed), and its absence is then the client's doing, not the collector's.
    deleted: set[tuple[str, str]] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, repository: str, digest: str) -> None:
        with self.lock:
            self.pushed.add((repository, digest))

    def digests_in(self, repository: str) -> list[str]:
        with self.lock:
            return sorted(digest for name, digest in self.pushed if name == repository)

    def delete(self, repository: str, digest: str) -> None:
        with self.lock:
            self.deleted.add((repository, digest))

    def check(self, status: int, what: str) -> None:
        if status >= 500:
            with self.lock:
                self.server_errors.append(f"{what}: {status}")


class Pusher:
    """Pushes that survive a collector racing them: a push that finds its blobs collected uploads again."""

    def __init__(self, client: RegistryClient, ledger: Ledger):
        self.client = client
        self.ledger = ledger

    def blob(self, repository: str, data: bytes) -> None:
        for _ in range(RETRIES):
            response = self.client.finish(self.client.open_session(repository), digest_of(data), data)
            self.ledger.check(response.status_code, "blob push")
            if response.status_code == 201:
                return
        raise AssertionError(f"blob push kept failing: {response.status_code} {response.text}")

    def manifest(self, repository: str, tag: str | None, body: bytes, media_type: str, blobs: list[bytes]) -> str:
        digest = digest_of(body)
        for _ in range(RETRIES):
            for data in blobs:
                self.blob(repository, data)
            response = self.client.put_manifest(repository, tag or digest, body, media_type)
            self.ledger.check(response.status_code, "manifest push")
            if response.status_code == 201:
                self.ledger.add(repository, digest)
                return digest
            assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"], response.text
        raise AssertionError(f"manifest push kept failing: {response.text}")

    def image(
        self, repository: str, tag: str | None, seed: str, layers: list[bytes], subject: str | None = None
    ) -> str:
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        body = image_manifest(
            descriptor(config, OCI_CONFIG),
            [descriptor(layer, OCI_LAYER) for layer in layers],
            subject=self._descriptor(repository, subject) if subject else None,
            artifact_type="application/vnd.test.signature" if subject else None,
        )
        return self.manifest(repository, tag, body, OCI_MANIFEST, [config, *layers])

    def _descriptor(self, repository: str, digest: str) -> dict[str, object]:
        response = self.client.head(f"/v2/{repository}/manifests/{digest}")
        size = int(response.headers.get("content-length", "2")) if response.status_code == 200 else 2
        return {"mediaType": response.headers.get("content-type", OCI_MANIFEST), "digest": digest, "size": size}

    def index(self, repository: str, tag: str, seed: str, rng: random.Random) -> str:
        children = [(f"{seed}-{arch}", rng.sample(SHARED_LAYERS, 2)) for arch in ("amd64", "arm64")]
        digests = [self.image(repository, None, child_seed, layers) for child_seed, layers in children]
        descriptors = [self._descriptor(repository, digest) for digest in digests]
        digest = self.manifest(repository, tag, index_manifest(descriptors), OCI_INDEX, [])
        # Indexes may be sparse, so a child collected before the index arrived is not refused:
        # push it again, as a client finding it missing would; the index now holds it. The collector
        # may run on another instance: its deletion is seen here once the instances agree.
        time.sleep(INSTANCES_AGREE_SECONDS)
        for (child_seed, layers), child in zip(children, digests, strict=True):
            if self.client.head(f"/v2/{repository}/manifests/{child}").status_code == 404:
                self.image(repository, None, child_seed, layers)
        return digest


@dataclass
class Audit:
    manifests: set[tuple[str, str]] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)
    referrers: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def audit(client: RegistryClient, deleted: frozenset[tuple[str, str]] = frozenset()) -> Audit:
    """Pull everything reachable from every tag, verifying every digest, except index children
    in `deleted` that are gone; return what was reached."""
    result = Audit()
    for repository in client.follow_pages("/v2/_catalog", {"n": 100}, "repositories"):
        tags = client.follow_pages(f"/v2/{repository}/tags/list", {"n": 100}, "tags")
        pending = [_pull_manifest(client, repository, tag) for tag in tags]
        while pending:
            digest, document = pending.pop()
            if (repository, digest) in result.manifests:
                continue
            result.manifests.add((repository, digest))
            for child in document.get("manifests", []):
                gone = (repository, child["digest"]) in deleted and _absent(client, repository, child["digest"])
                if not gone:
                    pending.append(_pull_manifest(client, repository, child["digest"]))
            for blob in [document["config"], *document["layers"]] if "config" in document else []:
                _pull_blob(client, repository, blob["digest"])
                result.blobs.add(blob["digest"])
            listed = client.referrers(repository, digest)
            assert listed.status_code == 200, listed.text
            referrers = {entry["digest"] for entry in listed.json()["manifests"]}
            result.referrers[(repository, digest)] = referrers
            pending.extend(_pull_manifest(client, repository, referrer) for referrer in referrers)
    return result


def _absent(client: RegistryClient, repository: str, digest: str) -> bool:
    return client.head(f"/v2/{repository}/manifests/{digest}").status_code == 404


def _pull_manifest(client: RegistryClient, repository: str, reference: str) -> tuple[str, dict[str, object]]:
    response = client.get_manifest(repository, reference)
    assert response.status_code == 200, f"{repository}@{reference}: {response.status_code}"
    digest = digest_of(response.content)
    assert response.headers["docker-content-digest"] == digest
    if reference.startswith("sha256:"):
        assert digest == reference
    return digest, json.loads(response.content)


def _pull_blob(client: RegistryClient, repository: str, digest: str) -> None:
    response = client.get_blob(repository, digest)
    assert response.status_code == 200, f"blob {digest} of {repository}: {response.status_code}"
    assert digest_of(response.content) == digest
