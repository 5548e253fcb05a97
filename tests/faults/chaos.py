"""Clients that keep pushing through faults as real ones do, and the record of what they were told.

A ChaosClient retries what a registry client retries: a 503 or 507 with the spec's error body, a
broken connection (then on the next instance, given several), a blob collected by `gc --now`
before its manifest came. Any other answer (a 500, a body that is not the spec's) fails the test at
once. What was acknowledged goes into a Ledger, which is checked against the registry at the end.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest_of, error_codes, image_manifest

RETRIES = 40
# Between retries: a client's backoff, growing to a fraction of a second (a restarting PostgreSQL
# or instance takes a second or two, which 40 tries outlast).
BACKOFF_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 0.5


@dataclass
class Ledger:
    """What the clients were told, shared by their threads: every tag's acknowledged manifest."""

    tags: dict[tuple[str, str], bytes] = field(default_factory=dict)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)  # what the clients met and got past
    acknowledged: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def tagged(self, repository: str, tag: str, body: bytes) -> None:
        with self.changed:
            self.tags[(repository, tag)] = body
            self.deleted.discard((repository, tag))
            self._acknowledge()

    def untagged(self, repository: str, tag: str) -> None:
        with self.changed:
            self.tags.pop((repository, tag), None)
            self.deleted.add((repository, tag))
            self._acknowledge()

    def met(self, fault: str) -> None:
        with self.changed:
            self.faults[fault] += 1

    def _acknowledge(self) -> None:
        self.acknowledged += 1
        self.changed.notify_all()

    def wait_for_more(self, count: int, timeout: float, stop: threading.Event) -> None:
        """Until `count` more operations were acknowledged (or `stop` is set); fails after `timeout`."""
        with self.changed:
            target = self.acknowledged + count
            if not self.changed.wait_for(lambda: self.acknowledged >= target or stop.is_set(), timeout):
                raise AssertionError(f"no progress: {self.acknowledged} operations acknowledged, waited {timeout}s")


@dataclass(frozen=True)
class Image:
    body: bytes
    blobs: tuple[bytes, ...]


class SessionCutShort(Exception):
    """A request into an upload session broke off: part of its body may be stored."""


class ChaosClient:
    def __init__(self, urls: list[str], ledger: Ledger, rng: random.Random, timeout: float = 30.0):
        self._urls = urls
        self._ledger = ledger
        self._rng = rng
        self._current = rng.randrange(len(urls))
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChaosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the operations, each acknowledged in the ledger ----------------------------------------------
    def push_image(self, repository: str, tag: str, seed: str) -> Image:
        """A config, one layer of its own and one every image shares, and the manifest under `tag`."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        layers = [f"layer of {seed}".encode() * 100, b"a layer every image shares" * 100]
        body = image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER) for layer in layers])
        image = Image(body, (config, *layers))
        self.move_tag(repository, tag, image)
        return image

    def move_tag(self, repository: str, tag: str, image: Image) -> None:
        """Push the image's manifest under `tag`, its blobs again if they were collected meanwhile."""
        for _ in range(RETRIES):
            for blob in image.blobs:
                self.push_blob(repository, blob)
            response = self._call("PUT", f"/v2/{repository}/manifests/{tag}", {201, 400}, image.body)
            if response.status_code == 201:
                self._ledger.tagged(repository, tag, image.body)
                return
            # `gc --now` collected a blob between its upload and the manifest.
            assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"], response.text
            self._ledger.met("MANIFEST_BLOB_UNKNOWN")
        raise AssertionError(f"the manifest of {repository}:{tag} kept finding its blobs collected")

    def delete_tag(self, repository: str, tag: str) -> None:
        # 404: an earlier try that the client never heard back from deleted it.
        self._call("DELETE", f"/v2/{repository}/manifests/{tag}", {202, 404})
        self._ledger.untagged(repository, tag)

    def pull(self, repository: str, tag: str, image: Image) -> None:
        """The tag's manifest is the image's, byte for byte, and so is every blob."""
        manifest = self._call("GET", f"/v2/{repository}/manifests/{tag}", {200, 404})
        assert manifest.status_code == 200, f"{repository}:{tag} is gone: {manifest.text[:200]}"
        assert manifest.content == image.body, f"{repository}:{tag} serves other bytes than acknowledged"
        for blob in image.blobs:
            pulled = self._call("GET", f"/v2/{repository}/blobs/{digest_of(blob)}", {200})
            assert pulled.content == blob, f"{repository} serves other bytes for {digest_of(blob)}"

    def push_blob(self, repository: str, data: bytes) -> None:
        """Unless HEAD finds it there: POST a session, PUT the bytes; a session a fault cut short is
        begun anew, since part of the body may have been stored."""
        if self._call("HEAD", f"/v2/{repository}/blobs/{digest_of(data)}", {200, 404}).status_code == 200:
            return
        for _ in range(RETRIES):
            location = self._call("POST", f"/v2/{repository}/blobs/uploads/", {202}).headers["location"]
            digest = {"digest": digest_of(data)}
            try:
                done = self._call("PUT", location, {201, 404}, data, params=digest, elsewhere=False)
            except SessionCutShort:
                continue
            if done.status_code == 201:
                return
            self._ledger.met("upload session lost")
        raise AssertionError(f"pushing a blob to {repository} kept failing")

    # -- one request, retried ---------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        expected: set[int],
        body: bytes | None = None,
        *,
        params: dict[str, str] | None = None,
        elsewhere: bool = True,
    ) -> httpx.Response:
        """The first answer with an expected status; faults are retried, anything else fails.

        A broken connection sends the request to the next instance, unless not `elsewhere`: then
        SessionCutShort, for a request that must not be repeated as it is."""
        for attempt in range(RETRIES):
            try:
                response = self._http.request(method, self._urls[self._current] + path, content=body, params=params)
            except httpx.TransportError as error:
                self._ledger.met(type(error).__name__)
                self._current = (self._current + 1) % len(self._urls)
                if not elsewhere:
                    raise SessionCutShort from error
                self._pause(attempt)
                continue
            if response.status_code in expected:
                return response
            assert response.status_code in (503, 507), f"{method} {path}: {response.status_code} {response.text[:300]}"
            assert error_codes(response) == ["UNAVAILABLE"], response.text
            self._ledger.met(str(response.status_code))
            self._pause(attempt)
        raise AssertionError(f"{method} {path} kept failing")

    def _pause(self, attempt: int) -> None:
        time.sleep(min(BACKOFF_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS) * self._rng.uniform(0.5, 1.0))


def verify(url: str, ledger: Ledger) -> None:
    """Every tag serves the manifest it was last acknowledged with, and its blobs; deleted tags are gone."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for (repository, tag), body in sorted(ledger.tags.items()):
            response = client.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
            assert response.status_code == 200, f"{repository}:{tag}: {response.status_code} {response.text[:200]}"
            assert response.content == body, f"{repository}:{tag} serves other bytes than acknowledged"
            document = json.loads(body)
            for blob in (document["config"], *document["layers"]):
                pulled = client.get(f"/v2/{repository}/blobs/{blob['digest']}")
                assert pulled.status_code == 200, f"{repository} blob {blob['digest']}: {pulled.status_code}"
                assert digest_of(pulled.content) == blob["digest"]
        for repository, tag in sorted(ledger.deleted):
            gone = client.get(f"/v2/{repository}/manifests/{tag}")
            assert gone.status_code == 404, f"{repository}:{tag} was deleted but answers {gone.status_code}"
