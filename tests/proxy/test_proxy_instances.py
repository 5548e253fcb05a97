"""Several dockyard instances on PostgreSQL + S3 pull through one upstream as one cache: clients missing
the same content at once, on any instance, cause exactly one upstream fetch and are served from the
download in progress; if the instance downloading dies, another takes the download over."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import yaml
from tests.proxy.support import seed_image, unique, upstream
from tests.remote.support import Distribution
from tests.support.backends import backend_env
from tests.support.faultproxy import FaultProxy, Stall
from tests.support.metrics import metric
from tests.support.server import DockyardServer, all_running
from tests.support.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
MIB = 1 << 20
PULLERS = 8


@pytest.fixture(scope="module")
def faults(distribution: Distribution) -> Iterator[FaultProxy]:
    with FaultProxy(distribution.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, faults: FaultProxy
) -> Iterator[list[DockyardServer]]:
    """Three instances sharing one PostgreSQL database and one bucket, nothing else (as on three
    machines), for the module: the last test kills one."""
    tmp_path = tmp_path_factory.mktemp("instances")
    config = tmp_path / "config.yaml"
    proxy = {"upstreams": [upstream("hub", faults.url, tag_ttl_seconds=3600)], "lease_seconds": 2}
    config.write_text(yaml.safe_dump({"proxy": proxy}))
    env = backend_env(request, "pg-s3")
    servers = [DockyardServer(tmp_path / f"data-{n}", ["--config", str(config)], env=env) for n in range(3)]
    with all_running(servers):
        yield servers


def test_concurrent_pullers_on_three_instances_cause_one_upstream_get_per_blob(
    instances: list[DockyardServer], faults: FaultProxy, distribution: Distribution
) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(12 * MIB, 3000))
    layer = max(image.blobs, key=lambda digest: len(image.blobs[digest]))
    stall = faults.add("GET", f"/v2/{repository}/blobs/{layer}", Stall(after_bytes=MIB), times=1)
    started = threading.Barrier(PULLERS + 1, timeout=120)
    results: dict[int, dict[str, bytes]] = {}
    failures: list[BaseException] = []

    def pull(number: int) -> None:
        server = instances[number % len(instances)]
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                manifest = client.get(f"/v2/hub/{repository}/manifests/1", headers={"accept": image.media_type})
                assert manifest.content == image.body
                pulled = {}
                with client.stream("GET", f"/v2/hub/{repository}/blobs/{layer}") as response:
                    assert response.status_code == 200
                    started.wait()  # every puller has its answer's head before upstream goes on
                    pulled[layer] = response.read()
                for digest in image.blobs:
                    if digest != layer:
                        pulled[digest] = client.get(f"/v2/hub/{repository}/blobs/{digest}").content
                results[number] = pulled
        except BaseException as error:
            failures.append(error)
            started.abort()

    pullers = [threading.Thread(target=pull, args=(number,)) for number in range(PULLERS)]
    for puller in pullers:
        puller.start()
    try:
        started.wait()
    finally:
        stall.release()
    for puller in pullers:
        puller.join(180)
    assert not failures, failures
    assert len(results) == PULLERS
    for pulled in results.values():
        assert set(pulled) == set(image.blobs)
        assert all(data == image.blobs[digest] for digest, data in pulled.items())
    assert faults.count("GET", f"/v2/{repository}/manifests/*") == 1
    for digest in image.blobs:
        assert faults.count("GET", f"/v2/{repository}/blobs/{digest}") == 1, digest
    joins = sum(metric(server.url, "dockyard_proxy_fill_joins_total") for server in instances)
    assert joins >= PULLERS - 1


def test_when_the_downloading_instance_dies_another_takes_over(
    instances: list[DockyardServer], faults: FaultProxy, distribution: Distribution
) -> None:
    repository = unique()
    image = seed_image(distribution.url, repository, "1", layer_sizes=(6 * MIB,))
    layer, blob = max(image.blobs.items(), key=lambda item: len(item[1]))
    stall = faults.add("GET", f"/v2/{repository}/blobs/{layer}", Stall(after_bytes=MIB), times=1)
    leader, follower, _ = instances  # the module's last test: the leader does not come back
    path = f"/v2/hub/{repository}/blobs/{layer}"
    with httpx.Client(timeout=120) as client, client.stream("GET", leader.url + path) as first:
        assert first.status_code == 200
        wait_until(lambda: faults.count("GET", f"/v2/{repository}/blobs/*") == 1, 30, "the download never started")
        result: dict[str, bytes | BaseException] = {}

        def follow() -> None:
            try:
                result["body"] = httpx.get(follower.url + path, timeout=120).content
            except BaseException as error:
                result["body"] = error

        following = threading.Thread(target=follow)
        following.start()
        leader.kill()  # mid-download, lease held
        stall.release()
        following.join(120)
    assert result["body"] == blob
    assert faults.count("GET", f"/v2/{repository}/blobs/{layer}") == 2  # the dead one's, and the taker's
