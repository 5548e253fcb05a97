"""Property tests of what garbage collection keeps, over generated registry graphs.

Each example builds a graph through the registry layer on real stores (indexes of indexes,
layers shared across repositories, referrers of referrers, one manifest in several
repositories), deletes and moves tags and deletes manifests, collects everything due with
`now`, and compares what is left with a model: exactly what is reachable from a tag
survives, with every blob it needs, and nothing else.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.gc.graphs import Model, ModelManifest, Stores, config_blob, image, index
from tests.support.backends import every_backend

from dockyard.config.settings import Gc
from dockyard.core.digest import Digest

REPOSITORIES = ["a/one", "a/two", "b/three"]
TAGS = ["latest", "v1", "v2"]
LAYERS = [f"shared layer {number}".encode() for number in range(5)]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def _draw_manifest(data: st.DataObject, model: Model, repository: str) -> ModelManifest:
    existing = list(model.repository(repository).manifests.values())
    kind = data.draw(st.sampled_from(["image", "image", "index", "referrer"] if existing else ["image"]))
    if kind == "image":
        layers = data.draw(st.lists(st.sampled_from(LAYERS), min_size=1, max_size=3, unique=True))
        return image(config_blob(data.draw(st.integers(0, 3))), layers)
    if kind == "index":
        children = data.draw(st.lists(st.sampled_from(existing), min_size=1, max_size=3, unique_by=lambda m: m.digest))
        return index(children)
    subject = data.draw(st.sampled_from(existing))
    return image(config_blob(100 + data.draw(st.integers(0, 2))), [data.draw(st.sampled_from(LAYERS))], subject)


def _act(data: st.DataObject, model: Model, stores: Stores, loop: asyncio.AbstractEventLoop) -> None:
    repository = data.draw(st.sampled_from(REPOSITORIES))
    state = model.repository(repository)
    action = data.draw(st.sampled_from(["push", "push", "push", "untag", "delete"]))
    if action == "push":
        manifest = _draw_manifest(data, model, repository)
        tag = data.draw(st.none() | st.sampled_from(TAGS))
        loop.run_until_complete(stores.push(repository, manifest, tag))
        state.manifests[manifest.digest] = manifest
        model.ever_pushed.add((repository, manifest.digest))
        if tag:
            state.tags[tag] = manifest.digest
    elif action == "untag" and state.tags:
        tag = data.draw(st.sampled_from(sorted(state.tags)))
        loop.run_until_complete(stores.registry.manifests.delete(repository, tag))
        del state.tags[tag]
    elif action == "delete" and state.manifests:
        digest = data.draw(st.sampled_from(sorted(state.manifests)))
        loop.run_until_complete(stores.registry.manifests.delete(repository, digest))
        del state.manifests[digest]
        state.tags = {tag: target for tag, target in state.tags.items() if target != digest}


async def _check_survivors(model: Model, stores: Stores) -> None:
    for repository, digest in sorted(model.ever_pushed):
        state = model.repository(repository)
        assert await stores.has_manifest(repository, digest) == (digest in state.live()), (repository, digest)
    for repository, state in model.repositories.items():
        for tag, digest in state.tags.items():
            assert (await stores.registry.manifests.resolve(repository, tag)).digest == digest
        for digest in state.live():
            for blob in state.manifests[digest].blobs:
                assert await stores.registry.blobs.size(repository, Digest.of(blob)) == len(blob)
    assert await stores.stored_blobs() == model.live_blobs()


@pytest.fixture
def new_database(request: pytest.FixtureRequest, backend: str) -> Callable[[], str | None]:
    """A fresh metadata database per call: None for SQLite (a file in each example's directory)."""
    if backend == "sqlite-fs":
        return lambda: None
    make = request.getfixturevalue("postgres_database")
    return lambda: make()["DOCKYARD_DATABASE__URL"]


@every_backend
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_exactly_what_a_tag_reaches_survives(
    data: st.DataObject, loop: asyncio.AbstractEventLoop, new_database: Callable[[], str | None]
) -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-gc-") as root:
        stores = loop.run_until_complete(Stores(Path(root), database_url=new_database()).start())
        try:
            model = Model()
            for _ in range(data.draw(st.integers(1, 25))):
                _act(data, model, stores, loop)
            loop.run_until_complete(stores.collector.collect(now=True))
            loop.run_until_complete(_check_survivors(model, stores))
        finally:
            loop.run_until_complete(stores.close())


def test_nothing_younger_than_the_delay_is_collected(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    stores = Stores(tmp_path)
    try:
        garbage = image(config_blob(1), LAYERS[:2])
        loop.run_until_complete(stores.push("a/one", garbage, "latest"))
        loop.run_until_complete(stores.registry.manifests.delete("a/one", garbage.digest))
        report = loop.run_until_complete(stores.collector.collect())
        assert report.total().manifests == report.total().blobs == 0
        assert len(loop.run_until_complete(stores.stored_blobs())) == 3
    finally:
        loop.run_until_complete(stores.close())


def test_untagged_manifests_are_kept_when_configured(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    stores = Stores(tmp_path, Gc(untagged_manifests=False))
    try:
        kept = image(config_blob(2), LAYERS[:1])
        loop.run_until_complete(stores.push("a/one", kept, None))
        loop.run_until_complete(stores.collector.collect(now=True))
        assert loop.run_until_complete(stores.has_manifest("a/one", kept.digest))
        assert len(loop.run_until_complete(stores.stored_blobs())) == 2
    finally:
        loop.run_until_complete(stores.close())


def test_a_dry_run_reports_what_the_real_run_frees(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    stores = Stores(tmp_path)
    try:
        child = image(config_blob(3), LAYERS[:2])
        parent = index([child])
        signature = image(config_blob(4), LAYERS[3:4], subject=parent)
        for manifest, tag in ((child, None), (parent, "multi"), (signature, None)):
            loop.run_until_complete(stores.push("a/one", manifest, tag))
        loop.run_until_complete(stores.registry.manifests.delete("a/one", "multi"))
        dry = loop.run_until_complete(stores.collector.collect(now=True, dry_run=True))
        real = loop.run_until_complete(stores.collector.collect(now=True))
        assert dry.lines()[1:-1] == real.lines()[1:-1]
        assert dry.digests == real.digests
        assert real.total().manifests == 3
        assert loop.run_until_complete(stores.stored_blobs()) == set()
    finally:
        loop.run_until_complete(stores.close())


@every_backend
def test_a_blob_linked_again_keeps_its_queued_review_and_the_review_keeps_the_young_link(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, new_database: Callable[[], str | None]
) -> None:
    """A second link leaves the blob's queued review where it was (pushes of a shared layer would
    otherwise all move one row); that review, due before the young link is old enough, drops the old
    link only, keeps the blob and queues itself again for when the young link is old enough."""
    blob = b"uploaded, referenced by no manifest"
    digest = str(Digest.of(blob))

    async def scenario() -> None:
        stores = await Stores(tmp_path, database_url=new_database()).start()
        try:
            await stores.push_blob("a/one", blob)
            queued = (await stores.meta.gc_queue()).oldest_enqueued_at
            await asyncio.sleep(0.05)
            between = time.time()
            await asyncio.sleep(0.05)
            await stores.meta.link_blob("a/two", digest, len(blob))  # as a mount or a second push does
            assert (await stores.meta.gc_queue()).oldest_enqueued_at == queued
            early = await stores.meta.review_garbage(between, delete_untagged=True, max_reviews=100)
            assert early.collected == []
            assert await stores.registry.blobs.size("a/two", Digest.of(blob)) == len(blob)
            assert await stores.meta.repository_blob_size("a/one", digest) is None
            assert digest in await stores.stored_blobs()
            assert (await stores.meta.gc_queue()).blob_reviews == 1
            later = await stores.meta.review_garbage(time.time() + 1, delete_untagged=True, max_reviews=100)
            assert [(item.kind, item.digest) for item in later.collected] == [("blob", digest)]
        finally:
            await stores.close()

    loop.run_until_complete(scenario())
