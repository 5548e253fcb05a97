"""Usage per repository, over HTTP and from the command line, from the same query."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.http.ocitest import RegistryClient
from tests.ops.conftest import Servers
from tests.support.backends import every_backend


@every_backend
def test_usage_counts_and_shares(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = servers.start(data_dir=data)
    shared_layer = b"a layer both repositories hold" * 100
    own_layer = b"a layer only one holds" * 10
    with RegistryClient(server.url) as client:
        client.push_image("usage/a", "v1", seed="one")
        client.push_image("usage/a", "v2", seed="two")
        client.push_blob("usage/a", shared_layer)
        client.push_blob("usage/b", shared_layer)
        client.push_blob("usage/b", own_layer)
    by_name = {row["repository"]: row for row in httpx.get(server.url + "/v2/_dockyard/usage").json()["repositories"]}
    a, b = by_name["usage/a"], by_name["usage/b"]
    assert (a["manifests"], a["tags"], a["blobs"]) == (2, 2, 5)  # two configs, two layers, the shared blob
    assert (b["manifests"], b["tags"], b["blobs"]) == (0, 0, 2)
    assert b["blob_bytes"] == len(shared_layer) + len(own_layer)
    assert b["shared_bytes"] == len(shared_layer)
    assert a["shared_bytes"] == len(shared_layer)

    first = httpx.get(server.url + "/v2/_dockyard/usage", params={"n": 1})
    assert [row["repository"] for row in first.json()["repositories"]] == ["usage/a"]
    assert "last=usage%2Fa" in first.headers["link"]

    printed = servers.dockyard("usage", "--json", "--data-dir", data)
    assert json.loads(printed.stdout)["repositories"] == [a, b]
