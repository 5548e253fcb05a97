"""Behaviour that configuration switches change: automatic mount off, sparse image manifests on.

Each switch gets a server of its own; the session's server runs the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.http.ocitest import (
    OCI_LAYER,
    OCI_MANIFEST,
    RegistryClient,
    assert_error,
    descriptor,
    digest_of,
    image_manifest,
)
from tests.http.test_manifests import push_config_and_layer
from tests.support.server import DockyardServer


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryClient]:
    env = {"DOCKYARD_UPLOADS__AUTOMATIC_MOUNT": "false", "DOCKYARD_MANIFESTS__ALLOW_MISSING_BLOBS": "true"}
    data_dir: Path = tmp_path_factory.mktemp("switched") / "data"
    with DockyardServer(data_dir, env=env) as server, RegistryClient(server.url) as client:
        yield client


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_without_automatic_mount_a_mount_without_from_opens_a_session(switched: RegistryClient, algorithm: str) -> None:
    digest = switched.push_blob("switch/holder", b"held elsewhere", algorithm)
    response = switched.start_upload("switch/target", mount=digest)
    assert response.status_code == 202
    assert response.headers["location"]
    assert switched.get_blob("switch/target", digest).status_code == 404


def test_without_automatic_mount_from_lacking_the_blob_opens_a_session(switched: RegistryClient) -> None:
    digest = switched.push_blob("switch/owner", b"only the owner has it")
    switched.push_blob("switch/empty-source", b"something else")
    response = switched.start_upload("switch/dest", mount=digest, **{"from": "switch/empty-source"})
    assert response.status_code == 202


def test_mount_with_from_still_works_without_automatic_mount(switched: RegistryClient) -> None:
    digest = switched.push_blob("switch/from", b"explicit source")
    response = switched.start_upload("switch/to", mount=digest, **{"from": "switch/from"})
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == digest


def test_sparse_image_manifest_is_refused_by_default(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [descriptor(b"layer never pushed", OCI_LAYER), layer])
    assert_error(client.put_manifest(repo, "sparse", body), 400, "MANIFEST_BLOB_UNKNOWN")


def test_sparse_image_manifest_is_accepted_with_the_switch(switched: RegistryClient) -> None:
    repo = "switch/sparse"
    config, layer = push_config_and_layer(switched, repo)
    body = image_manifest(config, [descriptor(b"layer never pushed", OCI_LAYER), layer])
    digest = digest_of(body)
    assert switched.put_manifest(repo, "sparse", body).status_code == 201
    assert switched.put_manifest(repo, digest, body).status_code == 201
    for reference in ("sparse", digest):
        got = switched.get_manifest(repo, reference)
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["content-type"] == OCI_MANIFEST
        assert switched.head(f"/v2/{repo}/manifests/{reference}").status_code == 200
    assert switched.tags(repo).json()["tags"] == ["sparse"]
