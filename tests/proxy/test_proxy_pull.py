"""Pulling through the cache: every route (prefix, `ns`, default) to one cache repository, content
byte-identical to upstream (images, a multi-platform index, an artifact with its referrers), listings
and blob HEADs from upstream, Range, refused writes, and what logs, metrics, webhooks and the UI say.

Upstreams: Distribution 2.8.2 (`hub`: by prefix, by `ns` and the default) and dockyard in token mode
(`tok`: by `ns` only, with credentials), each behind a fault proxy that counts what reaches it. One
cache server per backend for the whole module; each test pulls repositories of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from tests.auth.support import PASSWORDS, bearer, fetch_token
from tests.events.receiver import Receiver
from tests.http.ocitest import OCI_INDEX, OCI_MANIFEST, RegistryClient, assert_error, digest_of
from tests.proxy.support import (
    Cache,
    fault_proxies,
    seed_image,
    seed_index,
    start_cache,
    unique,
    upstream,
)
from tests.remote.conftest import TokenDockyard
from tests.remote.support import Distribution
from tests.support.faultproxy import FaultProxy
from tests.support.wait import wait_until

pytestmark = pytest.mark.timeout(300)

TOKEN_NS = "token.example"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def faults(distribution: Distribution, token_dockyard: TokenDockyard) -> Iterator[dict[str, FaultProxy]]:
    yield from fault_proxies({"hub": distribution.url, "tok": token_dockyard.url})


@pytest.fixture(scope="module", params=["sqlite-fs", "pg-s3"])
def cache(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    faults: dict[str, FaultProxy],
    receiver: Receiver,
) -> Iterator[Cache]:
    upstreams = [
        upstream("hub", faults["hub"].url, prefix="hub", namespaces=["docker.io"], default=True, library_prefix=True),
        upstream(
            "tok", faults["tok"].url, prefix="", namespaces=[TOKEN_NS], username="admin", password=PASSWORDS["admin"]
        ),
    ]
    endpoint = {"name": "hook", "url": receiver.url, "events": ["fill"], "timeout": 2, "backoff_seconds": 0.05}
    started = start_cache(
        request,
        tmp_path_factory.mktemp(f"cache-{request.param}"),
        request.param,
        upstreams,
        faults,
        notifications={"endpoints": [endpoint], "poll_seconds": 0.1},
    )
    try:
        yield started
    finally:
        started.server.stop()


def counts(proxy: FaultProxy, repository: str) -> dict[str, int]:
    """Requests that reached an upstream for a repository, by method and kind."""
    return {
        f"{method} {kind}": proxy.count(method, f"/v2/{repository}/{kind}/*")
        for method in ("GET", "HEAD")
        for kind in ("manifests", "blobs")
    }


def test_an_image_by_prefix_is_byte_identical_and_fetched_once(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1.0", layer_sizes=(3 << 20, 1000))
    short = repository.removeprefix("library/")  # Docker Hub's single names: library/ is added
    with cache.client() as client:
        for _ in range(2):
            response = client.get_manifest(f"hub/{short}", "1.0")
            assert response.status_code == 200, response.text
            assert response.content == image.body
            assert response.headers["content-type"] == OCI_MANIFEST
            assert response.headers["docker-content-digest"] == image.digest
            assert "oci-namespace" not in response.headers
            assert client.get_manifest(f"hub/{repository}", image.digest).content == image.body
            for digest, blob in image.blobs.items():
                pulled = client.get_blob(f"hub/{short}", digest)
                assert (pulled.status_code, pulled.content) == (200, blob)
                assert pulled.headers["docker-content-digest"] == digest
    assert counts(cache.faults["hub"], repository) == {
        "GET manifests": 1,  # by tag; the digest is the same manifest
        "HEAD manifests": 0,
        "GET blobs": len(image.blobs),
        "HEAD blobs": 0,
    }
    lines = cache.logged(f"/v2/hub/{short}/manifests/1.0")  # the path as the client sent it
    assert [line.rsplit(" ", 1)[-1] for line in lines] == ["cache=miss", "cache=hit"]


def test_prefix_ns_and_default_share_one_cache_repository(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "2.0")
    short = repository.removeprefix("library/")
    with cache.client() as client:
        by_ns = client.http.get(f"/v2/{short}/manifests/2.0", params={"ns": "docker.io"})
        assert (by_ns.status_code, by_ns.content) == (200, image.body)
        assert by_ns.headers["oci-namespace"] == "docker.io"
        by_default = client.get_manifest(short, "2.0")
        assert (by_default.status_code, by_default.content) == (200, image.body)
        assert "oci-namespace" not in by_default.headers
        assert client.get_manifest(f"hub/{repository}", "2.0").content == image.body
        digest, blob = next(iter(image.blobs.items()))
        assert client.http.get(f"/v2/{repository}/blobs/{digest}", params={"ns": "docker.io"}).content == blob
        assert client.get_blob(short, digest).content == blob
        catalog = client.get("/v2/_catalog").json()["repositories"]
    assert catalog.count(f"hub/{repository}") == 1
    assert not any(name in (repository, short) for name in catalog)
    assert counts(cache.faults["hub"], repository)["GET manifests"] == 1
    assert counts(cache.faults["hub"], repository)["GET blobs"] == 1


def test_local_repositories_stay_local_and_unknown_namespaces_are_never_dialled(
    cache: Cache, distribution: Distribution
) -> None:
    local = unique("team/local")
    upstream_only = unique("team/elsewhere")
    seed_image(distribution.url, upstream_only, "1")
    with cache.client() as client:
        pushed = client.push_image(local, "1")
        before = cache.faults["hub"].count()
        for params in ({}, {"ns": "unknown.example"}, {"ns": cache.url.removeprefix("http://")}):
            answer = client.http.get(f"/v2/{local}/manifests/1", params=params, headers={"accept": OCI_MANIFEST})
            assert (answer.status_code, answer.content) == (200, pushed.body)
            assert "oci-namespace" not in answer.headers
        assert cache.faults["hub"].count() == before  # pushed here: the default upstream is not asked
        # Nothing was pushed here under that name: the default upstream serves it.
        assert client.get_manifest(upstream_only, "1").status_code == 200


def test_a_multi_platform_index_and_its_children_by_digest(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    index, children = seed_index(distribution.url, repository, "multi", platforms=3)
    with cache.client() as client:
        got = client.http.get(
            f"/v2/{repository}/manifests/multi", params={"ns": "docker.io"}, headers={"accept": OCI_INDEX}
        )
        assert (got.status_code, got.content, got.headers["content-type"]) == (200, index.body, OCI_INDEX)
        for child in children:
            pulled = client.get_manifest(f"hub/{repository}", child.digest)
            assert (pulled.status_code, pulled.content) == (200, child.body)
            assert pulled.headers["docker-content-digest"] == child.digest
            for digest, blob in child.blobs.items():
                assert client.get_blob(f"hub/{repository}", digest).content == blob
        assert client.get_manifest(f"hub/{repository}", index.digest).content == index.body
    assert counts(cache.faults["hub"], repository)["GET manifests"] == 1 + len(children)


def test_an_artifact_and_its_referrers_through_a_token_upstream(cache: Cache, token_dockyard: TokenDockyard) -> None:
    repository = unique("team/signed")
    token = fetch_token(token_dockyard.url, "admin", f"repository:{repository}:pull,push")
    with RegistryClient(token_dockyard.url) as upstream_client:
        upstream_client.http.headers.update(bearer(token))
        subject = upstream_client.push_image(repository, "1.0")
        signature = upstream_client.push_artifact(repository, subject, "application/vnd.example.signature")
        sbom = upstream_client.push_artifact(repository, subject, "application/vnd.example.sbom", payload=b"sbom")
    with cache.client() as client:
        client.http.headers["Authorization"] = "Bearer the-clients-own-token"  # never forwarded
        ns = {"ns": TOKEN_NS}
        listed = client.http.get(f"/v2/{repository}/referrers/{subject.digest}", params=ns)
        assert listed.status_code == 200, listed.text
        assert {entry["digest"] for entry in listed.json()["manifests"]} == {signature.digest, sbom.digest}
        got = client.http.get(f"/v2/{repository}/manifests/{signature.digest}", params=ns)
        assert (got.status_code, got.content) == (200, signature.body)
        # Cached now, and still listed once; filtered by type as the client asks.
        filtered = client.http.get(
            f"/v2/{repository}/referrers/{subject.digest}",
            params={**ns, "artifactType": "application/vnd.example.signature"},
        )
        assert [entry["digest"] for entry in filtered.json()["manifests"]] == [signature.digest]
        assert filtered.json()["manifests"][0]["artifactType"] == "application/vnd.example.signature"
        # The token upstream's own name for the cache repository: its upstream's name, under "tok/".
        assert client.get_manifest(f"tok/{repository}", signature.digest).content == signature.body
    upstream_requests = cache.faults["tok"].exchanges(path=f"/v2/{repository}/*")
    assert upstream_requests
    assert all(
        exchange.request.header("authorization") != "Bearer the-clients-own-token" for exchange in upstream_requests
    )
    assert all(
        (exchange.request.header("authorization") or "").startswith("Bearer ") for exchange in upstream_requests[1:]
    )


def test_tags_and_blob_heads_come_from_upstream(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    pulled = seed_image(distribution.url, repository, "pulled")
    unpulled = seed_image(distribution.url, repository, "unpulled")
    with cache.client() as client:
        assert client.get_manifest(f"hub/{repository}", "pulled").status_code == 200
        assert client.tags(f"hub/{repository}").json()["tags"] == ["pulled", "unpulled"]
        assert client.tags(f"hub/{repository}", n=1).json()["tags"] == ["pulled"]
        assert client.tags(f"hub/{repository}", last="pulled").json()["tags"] == ["unpulled"]
        digest, blob = next(iter(unpulled.blobs.items()))
        head = client.head(client.blob_url(f"hub/{repository}", digest))
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(blob)))
        assert cache.faults["hub"].count("GET", f"/v2/{repository}/blobs/{digest}") == 0  # not fetched
        assert cache.faults["hub"].count("HEAD", f"/v2/{repository}/blobs/{digest}") == 1
        unknown = client.head(client.blob_url(f"hub/{repository}", digest_of(b"nothing upstream either")))
        assert unknown.status_code == 404
        assert_error(client.get_blob(f"hub/{repository}", digest_of(b"nothing upstream either")), 404, "BLOB_UNKNOWN")
        assert_error(client.get_manifest(f"hub/{repository}", "no-such-tag"), 404, "MANIFEST_UNKNOWN")
        assert_error(client.tags(f"hub/{unique()}"), 404, "NAME_UNKNOWN")
    assert pulled.digest != unpulled.digest


def test_range_requests_on_a_cached_blob(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(200_000,))
    digest, blob = max(image.blobs.items(), key=lambda item: len(item[1]))
    with cache.client() as client:
        assert client.get_blob(f"hub/{repository}", digest).content == blob
        for header, expected in (
            ("bytes=10-99", blob[10:100]),
            ("bytes=-5", blob[-5:]),
            ("bytes=199990-", blob[199990:]),
        ):
            part = client.get_blob(f"hub/{repository}", digest, headers={"range": header})
            assert (part.status_code, part.content) == (206, expected)
    assert counts(cache.faults["hub"], repository)["GET blobs"] == 1


def test_pushes_and_deletes_into_a_cache_repository_are_refused(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    name = f"hub/{repository}"
    digest, blob = next(iter(image.blobs.items()))
    with cache.client() as client:
        assert client.get_manifest(name, "1").status_code == 200
        assert client.get_blob(name, digest).status_code == 200
        source = unique("team/source")
        client.push_blob(source, blob)
        refused = [
            client.put_manifest(name, "2", image.body),
            client.start_upload(name),
            client.start_upload(name, digest=digest_of(b"x")),
            client.start_upload(name, mount=digest, **{"from": source}),
            client.delete(f"/v2/{name}/manifests/1"),
            client.delete(f"/v2/{name}/manifests/{image.digest}"),
            client.delete(client.blob_url(name, digest)),
        ]
        for response in refused:
            assert_error(response, 403, "DENIED")
        # A write never follows `ns`: this is a push to a local repository (which lacks the blobs).
        local = client.put_manifest(repository.removeprefix("library/"), "2", image.body, params=[("ns", "docker.io")])
        assert_error(local, 400, "MANIFEST_BLOB_UNKNOWN")
        assert client.get_manifest(name, "1").content == image.body
        assert client.get_blob(name, digest).content == blob


def test_fill_events_metrics_and_the_ui_name_the_upstream(
    cache: Cache, distribution: Distribution, receiver: Receiver
) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "7")
    with cache.client() as client:
        assert client.get_manifest(f"hub/{repository}", "7").status_code == 200
        for digest in image.blobs:
            assert client.get_blob(f"hub/{repository}", digest).status_code == 200
        ui = client.get("/v2/_dockyard/repositories", params={"q": repository}).json()["repositories"]
        rights = client.get(f"/v2/_dockyard/repositories/hub/{repository}/-/rights").json()
    wanted = {image.digest, *image.blobs}
    events = receiver.wait_for(
        lambda events: (
            wanted <= {e["target"]["digest"] for e in events if e["target"]["repository"] == f"hub/{repository}"}
        )
    )
    fills = [event for event in events if event["target"]["repository"] == f"hub/{repository}"]
    assert {event["action"] for event in fills} == {"fill"}
    [manifest_event] = [event for event in fills if event["target"]["digest"] == image.digest]
    assert (manifest_event["target"]["tag"], manifest_event["target"]["mediaType"]) == ("7", OCI_MANIFEST)
    assert [row["cacheOf"] for row in ui] == [
        {"upstream": "hub", "url": cache.faults["hub"].url, "repository": repository}
    ]
    assert (rights["pull"], rights["push"], rights["delete"]) == (True, False, False)
    blob_bytes = sum(map(len, image.blobs.values()))
    assert cache.metric("dockyard_proxy_upstream_bytes_total", upstream="hub") >= blob_bytes
    assert cache.metric("dockyard_proxy_fills_total", upstream="hub", result="stored") >= len(image.blobs)
    # Outcomes and bytes served are tallied per process and published about once a second.
    wait_until(
        lambda: (
            cache.metric("dockyard_proxy_requests_total", upstream="hub", kind="manifest", outcome="miss") >= 1
            and cache.metric("dockyard_proxy_served_bytes_total", upstream="hub") >= blob_bytes
        ),
        30,
        "the served pulls never showed in /metrics",
    )


def test_warm_fetches_an_image_ahead_of_its_pull(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    index, children = seed_index(distribution.url, repository, "warm")
    config = cache.server.extra_args[cache.server.extra_args.index("--config") + 1]
    warmed = subprocess.run(
        [sys.executable, "-m", "dockyard", "proxy", "warm", "--quiet", "--config", config,
         "--data-dir", str(cache.data_dir), f"hub/{repository}:warm"],
        env={**os.environ, **cache.env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert warmed.returncode == 0, warmed.stderr
    blobs = {digest: blob for child in children for digest, blob in child.blobs.items()}
    assert f"3 manifests, {len(blobs)} blobs" in warmed.stdout
    before = counts(cache.faults["hub"], repository)
    with cache.client() as client:
        assert client.get_manifest(f"hub/{repository}", "warm").content == index.body
        for child in children:
            assert client.get_manifest(f"hub/{repository}", child.digest).content == child.body
        for digest, blob in blobs.items():
            assert client.get_blob(f"hub/{repository}", digest).content == blob
    assert counts(cache.faults["hub"], repository) == before  # all of it from the cache
    assert before["GET blobs"] == len(blobs)
