"""Eviction through the garbage collector that exists: cached content not pulled for `keep_days`, or
beyond an upstream's `max_bytes` (least recently pulled first), loses what holds it, and the online GC
frees its bytes; content still within its limits stays.

Time is controlled through the settings, not waited out: one upstream keeps content a fraction of a
second (`keep_days` is a float), another thirty days, a third has a byte budget; eviction runs every
0.2 s and GC reviews are due at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.proxy.support import Cache, Image, fault_proxies, seed_image, start_cache, unique, upstream
from tests.remote.support import Distribution
from tests.support.backends import metadata_rows, stored_blobs
from tests.support.faultproxy import FaultProxy
from tests.support.wait import wait_until

pytestmark = pytest.mark.timeout(300)

LAYER = 200_000
A_TENTH_OF_A_SECOND = 0.1 / 86400


@pytest.fixture(scope="module")
def faults(distribution: Distribution) -> Iterator[dict[str, FaultProxy]]:
    yield from fault_proxies({"brief": distribution.url, "kept": distribution.url, "budget": distribution.url})


@pytest.fixture(scope="module", params=["sqlite-fs", "pg-s3"])
def cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, faults: dict[str, FaultProxy]
) -> Iterator[Cache]:
    upstreams = [
        upstream("brief", faults["brief"].url, keep_days=A_TENTH_OF_A_SECOND),
        upstream("kept", faults["kept"].url),
        upstream("budget", faults["budget"].url, max_bytes=int(LAYER * 1.5)),
    ]
    started = start_cache(
        request,
        tmp_path_factory.mktemp(f"eviction-{request.param}"),
        request.param,
        upstreams,
        faults,
        proxy={"eviction_interval_seconds": 0.2},
        gc={"review_delay_seconds": 0, "idle_seconds": 0.1, "pull_flush_seconds": 0.2},
    )
    try:
        yield started
    finally:
        started.server.stop()


def pull(cache: Cache, name: str, image: Image) -> None:
    """Pull the image, and wait until its downloads are stored (a client has the last byte before
    the blob is committed)."""
    upstream_name = name.split("/", 1)[0]
    fills = cache.metric("dockyard_proxy_fills_total", upstream=upstream_name, result="stored")
    with cache.client() as client:
        assert client.get_manifest(name, "1").content == image.body
        for digest, blob in image.blobs.items():
            assert client.get_blob(name, digest).content == blob
    wait_until(
        lambda: (
            cache.metric("dockyard_proxy_fills_total", upstream=upstream_name, result="stored")
            >= fills + len(image.blobs)
        ),
        60,
        "the pulled blobs were never stored",
    )


def stored(cache: Cache) -> set[str]:
    return stored_blobs(cache.data_dir, cache.env)


def manifests_of(cache: Cache, repository: str) -> list[str]:
    rows = metadata_rows(
        cache.data_dir,
        cache.env,
        f"SELECT m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = '{repository}'",
    )
    return [digest for (digest,) in rows]


def test_content_not_pulled_for_keep_days_is_freed_by_gc_and_fetched_again(
    cache: Cache, distribution: Distribution
) -> None:
    brief, kept = unique(), unique()
    short_lived = seed_image(distribution.url, brief, "1", layer_sizes=(LAYER,))
    long_lived = seed_image(distribution.url, kept, "1", layer_sizes=(LAYER,))
    pull(cache, f"brief/{brief}", short_lived)
    pull(cache, f"kept/{kept}", long_lived)
    wait_until(
        lambda: not set(short_lived.blobs) & stored(cache) and not manifests_of(cache, f"brief/{brief}"),
        60,
        lambda: f"still stored: {set(short_lived.blobs) & stored(cache)}, {manifests_of(cache, f'brief/{brief}')}",
    )
    assert set(long_lived.blobs) <= stored(cache)
    assert manifests_of(cache, f"kept/{kept}") == [long_lived.digest]
    assert cache.metric("dockyard_proxy_evictions_total", upstream="brief", reason="unpulled") >= 1
    assert cache.metric("dockyard_proxy_evictions_total", upstream="kept") == 0
    # Evicted is not lost: the next pull fetches it again.
    pull(cache, f"brief/{brief}", short_lived)
    assert cache.faults["brief"].count("GET", f"/v2/{brief}/manifests/*") == 2
    assert cache.faults["kept"].count("GET", f"/v2/{kept}/manifests/*") == 1


def test_beyond_max_bytes_the_least_recently_pulled_goes_first(cache: Cache, distribution: Distribution) -> None:
    older, newer = unique(), unique()
    first = seed_image(distribution.url, older, "1", layer_sizes=(LAYER,))
    second = seed_image(distribution.url, newer, "1", layer_sizes=(LAYER,))
    pull(cache, f"budget/{older}", first)
    pull(cache, f"budget/{newer}", second)
    wait_until(
        lambda: not set(first.blobs) & stored(cache),
        60,
        lambda: f"the older image is still stored: {set(first.blobs) & stored(cache)}",
    )
    assert set(second.blobs) <= stored(cache)
    assert manifests_of(cache, f"budget/{newer}") == [second.digest]
    assert cache.metric("dockyard_proxy_evictions_total", upstream="budget", reason="size") >= 1
