"""When upstream misbehaves: revalidation costs one HEAD, cached tags are served stale with a Warning
while upstream fails, uncached content gets a clear error (never 404, never 500), Retry-After and the
breaker keep us from dialling, stalls time out, broken transfers are not cached, a client hanging up
does not stop the download, and Range works on a download in progress.

Each scenario has an upstream of its own (Distribution 2.8.2 behind a fault proxy of its own), so that
its faults, its Retry-After and its breaker touch no other test. One cache server per backend.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.faults.observe import received
from tests.http.ocitest import assert_error, digest_of
from tests.proxy.support import Cache, fault_proxies, seed_image, start_cache, unique, upstream
from tests.remote.support import Distribution
from tests.support.faultproxy import CutBody, FaultProxy, Respond, Stall, too_many_requests
from tests.support.wait import wait_until

pytestmark = pytest.mark.timeout(300)

STALE = {"tag_ttl_seconds": 0, "max_stale_seconds": 3600}
UPSTREAMS: dict[str, dict[str, Any]] = {
    "reval": STALE,
    "limited": STALE,
    "down": STALE,
    "strict": {"tag_ttl_seconds": 0, "max_stale_seconds": 0},
    "breaker": {**STALE, "breaker_failures": 2, "breaker_cooldown_seconds": 2},
    "stall": {**STALE, "read_timeout_seconds": 1},
    "cut": STALE,
    "flight": STALE,
}
MIB = 1 << 20


@pytest.fixture(scope="module")
def faults(distribution: Distribution) -> Iterator[dict[str, FaultProxy]]:
    yield from fault_proxies(dict.fromkeys(UPSTREAMS, distribution.url))


@pytest.fixture(scope="module", params=["sqlite-fs", "pg-s3"])
def cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, faults: dict[str, FaultProxy]
) -> Iterator[Cache]:
    upstreams = [upstream(name, faults[name].url, **keys) for name, keys in UPSTREAMS.items()]
    started = start_cache(request, tmp_path_factory.mktemp(f"faults-{request.param}"), request.param, upstreams, faults)
    try:
        yield started
    finally:
        started.server.stop()


@pytest.fixture(autouse=True)
def no_leftover_faults(faults: dict[str, FaultProxy]) -> Iterator[None]:
    yield
    for proxy in faults.values():
        proxy.clear()
        proxy.up()


def test_a_tag_past_its_ttl_costs_one_head_and_no_get(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    proxy = cache.faults["reval"]
    with cache.client() as client:
        assert client.get_manifest(f"reval/{repository}", "1").content == image.body
        for _ in range(3):  # a TTL of 0: every pull by tag revalidates
            response = client.get_manifest(f"reval/{repository}", "1")
            assert (response.status_code, response.content) == (200, image.body)
            assert "warning" not in response.headers
        head = client.head(f"/v2/reval/{repository}/manifests/1")
        assert (head.status_code, head.headers["docker-content-digest"]) == (200, image.digest)
        assert client.get_manifest(f"reval/{repository}", image.digest).content == image.body  # never revalidated
    assert proxy.count("GET", f"/v2/{repository}/manifests/*") == 1
    assert proxy.count("HEAD", f"/v2/{repository}/manifests/1") == 4
    assert cache.metric("dockyard_proxy_revalidations_total", upstream="reval", result="unchanged") >= 4


def test_a_moved_tag_is_fetched_and_one_gone_upstream_is_gone_here(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    first = seed_image(distribution.url, repository, "moving")
    with cache.client() as client:
        assert client.get_manifest(f"reval/{repository}", "moving").content == first.body
        second = seed_image(distribution.url, repository, "moving")
        assert client.get_manifest(f"reval/{repository}", "moving").content == second.body
        assert client.get_manifest(f"reval/{repository}", first.digest).content == first.body  # still by digest
        with httpx.Client(base_url=distribution.url) as upstream_client:
            assert upstream_client.delete(f"/v2/{repository}/manifests/{second.digest}").status_code == 202
        assert_error(client.get_manifest(f"reval/{repository}", "moving"), 404, "MANIFEST_UNKNOWN")
        assert client.get_manifest(f"reval/{repository}", second.digest).content == second.body
        assert client.tags(f"reval/{repository}").json()["tags"] == []  # upstream's list


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        pytest.param(Respond(503, b'{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}'), 503, id="503"),
        pytest.param(Respond(500), 502, id="500"),
    ],
)
def test_stale_with_a_warning_while_upstream_fails_and_an_error_for_what_is_not_cached(
    cache: Cache, distribution: Distribution, fault: Respond, answer: int
) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    proxy = cache.faults["reval"]
    with cache.client() as client:
        assert client.get_manifest(f"reval/{repository}", "1").status_code == 200
        proxy.add("*", f"/v2/{repository}/*", fault)
        stale = client.get_manifest(f"reval/{repository}", "1")
        assert (stale.status_code, stale.content) == (200, image.body)
        assert stale.headers["warning"].startswith('299 - "upstream reval failed (HTTP ')
        uncached = client.get_manifest(f"reval/{repository}", "other")
        assert_error(uncached, answer, "UNAVAILABLE")
        assert f"HTTP {fault.status}" in uncached.text
        assert_error(client.get_blob(f"reval/{repository}", digest_of(os.urandom(16))), answer, "UNAVAILABLE")
    assert cache.logged(f"/v2/reval/{repository}/manifests/1")[-1].endswith("cache=stale")


def test_strict_upstream_past_max_stale_is_an_error(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    seed_image(distribution.url, repository, "1")
    with cache.client() as client:
        assert client.get_manifest(f"strict/{repository}", "1").status_code == 200
        cache.faults["strict"].add("*", f"/v2/{repository}/*", Respond(503))
        assert_error(client.get_manifest(f"strict/{repository}", "1"), 503, "UNAVAILABLE")


def test_retry_after_is_honoured_and_passed_on(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    proxy = cache.faults["limited"]
    with cache.client() as client:
        assert client.get_manifest(f"limited/{repository}", "1").status_code == 200
        limit = proxy.add("*", f"/v2/{repository}/*", too_many_requests(retry_after=3))
        stale = client.get_manifest(f"limited/{repository}", "1")
        assert (stale.status_code, stale.content) == (200, image.body)
        assert "HTTP 429" in stale.headers["warning"]
        refused = client.get_manifest(f"limited/{repository}", "other")
        assert_error(refused, 503, "UNAVAILABLE")
        assert 1 <= int(refused.headers["retry-after"]) <= 3
        for _ in range(3):  # within Retry-After: cached content stale, nothing dialled
            assert client.get_manifest(f"limited/{repository}", "1").headers["warning"]
        assert limit.hits == 1
        proxy.remove(limit)
        # Once the time has passed, upstream is asked again (and answers).
        wait_until(
            lambda: "warning" not in client.get_manifest(f"limited/{repository}", "1").headers,
            30,
            "upstream was never asked again after its Retry-After",
            interval=0.2,
        )


def test_a_breaker_stops_dialling_an_upstream_that_keeps_failing(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    seed_image(distribution.url, repository, "1")
    proxy = cache.faults["breaker"]
    failing = proxy.add("*", f"/v2/{repository}/*", Respond(502))
    with cache.client() as client:
        for _ in range(5):
            assert_error(client.get_manifest(f"breaker/{repository}", "1"), (502, 503), "UNAVAILABLE")
        assert failing.hits == 2  # two failures opened it; the rest failed fast
        assert cache.metric("dockyard_proxy_breaker_openings_total", upstream="breaker") >= 1
        proxy.remove(failing)
        wait_until(
            lambda: client.get_manifest(f"breaker/{repository}", "1").status_code == 200,
            30,
            "the breaker never let a probe through",
            interval=0.2,
        )


def test_an_unreachable_upstream_serves_cached_tags_and_lists_them(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    seed_image(distribution.url, repository, "never-pulled")
    proxy = cache.faults["down"]
    with cache.client() as client:
        assert client.get_manifest(f"down/{repository}", "1").status_code == 200
        proxy.down()
        stale = client.get_manifest(f"down/{repository}", "1")
        assert (stale.status_code, stale.content) == (200, image.body)
        assert "unreachable" in stale.headers["warning"]
        assert client.tags(f"down/{repository}").json()["tags"] == ["1"]  # the cached ones
        assert_error(client.get_manifest(f"down/{repository}", "never-pulled"), (502, 503), "UNAVAILABLE")


def test_a_stalled_upstream_times_out(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1")
    proxy = cache.faults["stall"]
    stall = proxy.add("GET", f"/v2/{repository}/manifests/*", Stall())
    try:
        with cache.client() as client:
            assert_error(client.get_manifest(f"stall/{repository}", "1"), 504, "UNAVAILABLE")
            stall.release()
            proxy.remove(stall)
            assert client.get_manifest(f"stall/{repository}", "1").content == image.body
    finally:
        stall.release()


def test_a_transfer_cut_midway_is_not_cached_and_the_next_pull_fetches_it_whole(
    cache: Cache, distribution: Distribution
) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(3 * MIB,))
    digest, blob = max(image.blobs.items(), key=lambda item: len(item[1]))
    proxy = cache.faults["cut"]
    proxy.add("GET", f"/v2/{repository}/blobs/*", CutBody(after_bytes=MIB), times=1)
    with cache.client() as client:
        body, error = received(client.http, client.blob_url(f"cut/{repository}", digest))
        assert error is not None
        assert len(body) < len(blob)
        assert body == blob[: len(body)]
        wait_until(
            lambda: cache.metric("dockyard_proxy_fills_total", upstream="cut", result="failed") >= 1,
            30,
            "no failed fill",
        )
        again = client.get_blob(f"cut/{repository}", digest)
        assert (again.status_code, again.content) == (200, blob)
    assert proxy.count("GET", f"/v2/{repository}/blobs/{digest}") == 2


def test_a_client_hanging_up_mid_miss_leaves_a_complete_cached_blob(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(4 * MIB,))
    digest, blob = max(image.blobs.items(), key=lambda item: len(item[1]))
    proxy = cache.faults["flight"]
    stall = proxy.add("GET", f"/v2/{repository}/blobs/{digest}", Stall(after_bytes=MIB), times=1)
    with cache.client() as client:
        with client.http.stream("GET", client.blob_url(f"flight/{repository}", digest)) as response:
            assert response.status_code == 200
            first = next(response.iter_raw())
            assert blob.startswith(first)
        # The client is gone; the download goes on once upstream does.
        stall.release()
        wait_until(
            lambda: cache.metric("dockyard_proxy_fills_total", upstream="flight", result="stored") >= 1,
            60,
            "the abandoned download never completed",
        )
        assert client.get_blob(f"flight/{repository}", digest).content == blob
    assert proxy.count("GET", f"/v2/{repository}/blobs/{digest}") == 1


def test_range_requests_on_a_download_in_progress(cache: Cache, distribution: Distribution) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(4 * MIB,))
    digest, blob = max(image.blobs.items(), key=lambda item: len(item[1]))
    proxy = cache.faults["flight"]
    stall = proxy.add("GET", f"/v2/{repository}/blobs/{digest}", Stall(after_bytes=2 * MIB), times=1)
    url = f"/v2/flight/{repository}/blobs/{digest}"
    whole: dict[str, bytes] = {}
    with cache.client() as client:

        def pull_whole() -> None:
            whole["body"] = client.get(url).content

        puller = threading.Thread(target=pull_whole)
        puller.start()
        wait_until(lambda: proxy.count("GET", f"/v2/{repository}/blobs/*") == 1, 30, "the download never started")
        # Bytes that arrived already: answered while upstream is stalled.
        arrived = client.get(url, headers={"range": "bytes=1000-99999"}, timeout=30)
        assert (arrived.status_code, arrived.content) == (206, blob[1000:100000])
        later: dict[str, httpx.Response] = {}
        waiter = threading.Thread(
            target=lambda: later.update(r=client.get(url, headers={"range": f"bytes={3 * MIB}-"}))
        )
        waiter.start()
        stall.release()
        waiter.join(60)
        puller.join(60)
    assert (later["r"].status_code, later["r"].content) == (206, blob[3 * MIB :])
    assert whole["body"] == blob
    assert proxy.count("GET", f"/v2/{repository}/blobs/{digest}") == 1
