"""Manifest push, pull, validation, tagging and deletion."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.http.ocitest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    OCI_NONDIST_LAYER,
    Pushed,
    RegistryClient,
    assert_client_error,
    assert_error,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
    unused_digest,
)

MIB = 1 << 20


def assert_serves(client: RegistryClient, repo: str, reference: str, pushed: Pushed) -> None:
    """GET and HEAD by `reference` answer the exact pushed bytes, type and digest."""
    response = client.get_manifest(repo, reference)
    assert response.status_code == 200, response.text
    assert response.content == pushed.body
    assert response.headers["content-type"] == pushed.media_type
    assert response.headers["docker-content-digest"] == pushed.digest
    assert int(response.headers["content-length"]) == len(pushed.body)
    head = client.http.head(f"/v2/{repo}/manifests/{reference}", headers={"Accept": pushed.media_type})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == pushed.media_type
    assert head.headers["docker-content-digest"] == pushed.digest
    assert int(head.headers["content-length"]) == len(pushed.body)


def push_config_and_layer(client: RegistryClient, repo: str, salt: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    config, layer = f'{{"os":"linux","salt":"{salt}"}}'.encode(), f"layer bytes {salt}".encode()
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    return descriptor(config, OCI_CONFIG), descriptor(layer, OCI_LAYER)


# -- push and pull -------------------------------------------------------------------------------


def test_push_by_tag_answers_201_location_and_digest(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, "v1")
    assert pushed.headers["location"]
    assert pushed.headers["docker-content-digest"] == pushed.digest
    assert_serves(client, repo, "v1", pushed)
    assert_serves(client, repo, pushed.digest, pushed)


def test_push_by_digest_then_pull_by_digest(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, None)
    assert pushed.headers["docker-content-digest"] == pushed.digest
    assert_serves(client, repo, pushed.digest, pushed)


def test_push_by_sha512_digest(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    pushed = client.push_manifest(repo, None, body, algorithm="sha512")
    assert pushed.digest.startswith("sha512:")
    assert pushed.headers["docker-content-digest"] == pushed.digest
    assert_serves(client, repo, pushed.digest, pushed)


def test_manifest_referencing_sha512_blobs(client: RegistryClient, repo: str) -> None:
    config, layer = b'{"os":"linux"}', b"sha512 layer"
    client.push_blob(repo, config, "sha512")
    client.push_blob(repo, layer, "sha512")
    body = image_manifest(descriptor(config, OCI_CONFIG, "sha512"), [descriptor(layer, OCI_LAYER, "sha512")])
    assert_serves(client, repo, "sha512-blobs", client.push_manifest(repo, "sha512-blobs", body))


def test_bytes_are_stored_exactly_as_sent(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
    # Odd whitespace, key order and escapes that any re-serialisation would change.
    body = (
        '{ "layers" :'
        + json.dumps([layer])
        + ',\n\t"schemaVersion":2 ,"config":'
        + json.dumps(config)
        + ', "mediaType": "application\\/vnd.oci.image.manifest.v1+json"  }\r\n'
    ).encode()
    assert json.loads(body) == document
    assert_serves(client, repo, "exact", client.push_manifest(repo, "exact", body))


def test_unknown_fields_and_data_field_round_trip(client: RegistryClient, repo: str) -> None:
    config_bytes = b'{"architecture":"arm64","os":"linux"}'
    client.push_blob(repo, config_bytes)
    _, layer = push_config_and_layer(client, repo)
    config = descriptor(config_bytes, OCI_CONFIG, data=base64.b64encode(config_bytes).decode())
    body = image_manifest(
        config,
        [{**layer, "x-vendor-extension": {"nested": [1, 2, 3]}}],
        extra={"org.example.unknown": True, "futureField": {"a": None}},
    )
    assert_serves(client, repo, "extra", client.push_manifest(repo, "extra", body))


def test_overwriting_a_tag_moves_it(client: RegistryClient, repo: str) -> None:
    first = client.push_image(repo, "moving", seed="one")
    second = client.push_image(repo, "moving", seed="two")
    assert first.digest != second.digest
    assert_serves(client, repo, "moving", second)
    assert_serves(client, repo, first.digest, first)


def test_pushing_the_same_manifest_twice_is_idempotent(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, "same")
    again = client.push_manifest(repo, "same", pushed.body)
    assert again.headers["docker-content-digest"] == pushed.digest
    assert_serves(client, repo, "same", pushed)


# -- manifest kinds ------------------------------------------------------------------------------


def test_oci_index_of_pushed_manifests(client: RegistryClient, repo: str) -> None:
    amd = client.push_image(repo, None, seed="amd64")
    arm = client.push_image(repo, None, seed="arm64")
    body = index_manifest(
        [
            amd.descriptor(platform={"architecture": "amd64", "os": "linux"}),
            arm.descriptor(platform={"architecture": "arm64", "os": "linux"}),
        ]
    )
    assert_serves(client, repo, "multi", client.push_manifest(repo, "multi", body, OCI_INDEX))


def test_nested_index(client: RegistryClient, repo: str) -> None:
    leaf = client.push_image(repo, None)
    inner = client.push_manifest(repo, None, index_manifest([leaf.descriptor()]), OCI_INDEX)
    outer = client.push_manifest(repo, "nested", index_manifest([inner.descriptor()]), OCI_INDEX)
    assert_serves(client, repo, "nested", outer)
    assert_serves(client, repo, inner.digest, inner)


def test_sparse_index_with_missing_children_is_accepted(client: RegistryClient, repo: str) -> None:
    present = client.push_image(repo, None)
    missing = {
        "mediaType": OCI_MANIFEST,
        "digest": unused_digest(),
        "size": 1234,
        "platform": {"architecture": "s390x", "os": "linux"},
    }
    body = index_manifest([present.descriptor(), missing])
    assert_serves(client, repo, "sparse", client.push_manifest(repo, "sparse", body, OCI_INDEX))


def test_docker_schema2_manifest_and_manifest_list(client: RegistryClient, repo: str) -> None:
    image = client.push_image(repo, "docker", media_type=DOCKER_MANIFEST)
    assert_serves(client, repo, "docker", image)
    body = index_manifest([image.descriptor(platform={"architecture": "amd64", "os": "linux"})], media_type=DOCKER_LIST)
    assert_serves(client, repo, "docker-list", client.push_manifest(repo, "docker-list", body, DOCKER_LIST))


def test_artifact_with_artifact_type_and_empty_config(client: RegistryClient, repo: str) -> None:
    pushed = client.push_artifact(repo, None, "application/vnd.example.sbom.v1", tag="sbom")
    assert json.loads(pushed.body)["config"]["mediaType"] == OCI_EMPTY
    assert_serves(client, repo, "sbom", pushed)


def test_non_distributable_layer_with_urls_need_not_be_pushed(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    foreign = {
        "mediaType": OCI_NONDIST_LAYER,
        "digest": unused_digest(),
        "size": 4096,
        "urls": ["https://example.com/foreign-layer.tar.gz"],
    }
    body = image_manifest(config, [foreign, layer])
    assert_serves(client, repo, "foreign", client.push_manifest(repo, "foreign", body))


def test_manifest_without_layers(client: RegistryClient, repo: str) -> None:
    client.push_blob(repo, EMPTY_JSON)
    body = image_manifest(descriptor(EMPTY_JSON, OCI_EMPTY), [], artifact_type="application/vnd.example.empty")
    assert_serves(client, repo, "nolayers", client.push_manifest(repo, "nolayers", body))


def test_manifest_just_under_four_mib_is_accepted(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    skeleton = image_manifest(config, [layer], annotations={"pad": ""})
    body = image_manifest(config, [layer], annotations={"pad": "p" * (4 * MIB - len(skeleton) - 16)})
    assert 4 * MIB - 32 < len(body) <= 4 * MIB
    assert_serves(client, repo, "big", client.push_manifest(repo, "big", body))


def test_manifest_over_the_size_limit_is_413(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer], annotations={"pad": "p" * (4 * MIB + 1024)})
    response = client.put_manifest(repo, "too-big", body)
    assert_error(response, 413, "SIZE_INVALID")
    assert client.get_manifest(repo, "too-big").status_code == 404


# -- validation ----------------------------------------------------------------------------------


def test_missing_layer_is_400_manifest_blob_unknown(client: RegistryClient, repo: str) -> None:
    config, _ = push_config_and_layer(client, repo)
    missing = descriptor(b"never pushed layer", OCI_LAYER)
    response = client.put_manifest(repo, "broken", image_manifest(config, [missing]))
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(client.get_manifest(repo, "broken"), 404, "MANIFEST_UNKNOWN")


def test_missing_config_is_400_manifest_blob_unknown(client: RegistryClient, repo: str) -> None:
    _, layer = push_config_and_layer(client, repo)
    response = client.put_manifest(repo, "broken", image_manifest(descriptor(b"{}x", OCI_CONFIG), [layer]))
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


def test_blob_only_in_another_repository_is_manifest_blob_unknown(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, f"{repo}/elsewhere")
    client.push_blob(repo, b"repository exists")
    response = client.put_manifest(repo, "borrowed", image_manifest(config, [layer]))
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"",
        b"[]",
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"',
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": "nope"}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["text", "empty", "array", "truncated", "wrong-types", "binary"],
)
def test_invalid_manifest_is_400_manifest_invalid(client: RegistryClient, repo: str, body: bytes) -> None:
    client.push_blob(repo, b"repository exists")
    assert_error(client.put_manifest(repo, "bad", body), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "artifact_type",
    ["\ud800", "application/vnd.example\x00", "application/" + "x" * 300, "text/plain\n", "application/vnd.é"],
    ids=["lone-surrogate", "nul", "too-long", "newline", "non-ascii"],
)
def test_artifact_type_must_be_a_media_type(client: RegistryClient, repo: str, artifact_type: str) -> None:
    """It is stored and filtered on: a lone surrogate (as a JSON escape) was a 500, a NUL one on PostgreSQL."""
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer], artifact_type=artifact_type)
    assert_error(client.put_manifest(repo, "odd-type", body), 400, "MANIFEST_INVALID")
    assert client.push_manifest(repo, "odd-type", image_manifest(config, [layer]))  # the rest was fine


@pytest.mark.parametrize(
    "change",
    [
        lambda body: b'{"layers": [],' + body[1:],  # which layers does a client see?
        lambda body: body[:-1] + b', "x": NaN}',
        lambda body: body[:-1] + b', "x": -Infinity}',
    ],
    ids=["duplicate-key", "nan", "infinity"],
)
def test_json_that_parsers_read_differently_is_manifest_invalid(
    client: RegistryClient, repo: str, change: Callable[[bytes], bytes]
) -> None:
    config, layer = push_config_and_layer(client, repo)
    assert_error(
        client.put_manifest(repo, "ambiguous", change(image_manifest(config, [layer]))), 400, "MANIFEST_INVALID"
    )
    assert client.get_manifest(repo, "ambiguous").status_code == 404


def test_media_type_field_must_match_content_type(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    response = client.put_manifest(repo, "mismatch", body, media_type=DOCKER_MANIFEST)
    assert_error(response, 400, "MANIFEST_INVALID")
    assert client.get_manifest(repo, "mismatch").status_code == 404


def test_index_sent_as_image_manifest_is_invalid(client: RegistryClient, repo: str) -> None:
    child = client.push_image(repo, None)
    body = index_manifest([child.descriptor()])
    assert_error(client.put_manifest(repo, "wrong", body, media_type=OCI_MANIFEST), 400, "MANIFEST_INVALID")


def test_push_by_digest_not_matching_the_body_is_400_digest_invalid(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    response = client.put_manifest(repo, digest_of(body + b" "), body)
    assert_error(response, 400, "DIGEST_INVALID")


def test_push_to_malformed_digest_reference_is_400(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    response = client.put_manifest(repo, "sha256:totallywrong", image_manifest(config, [layer]))
    assert_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("tag", ["-leading-dash", ".dot", "x" * 129, "has%20space", "a+b"])
def test_invalid_tag_is_a_client_error(client: RegistryClient, repo: str, tag: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    response = client.put_manifest(repo, tag, image_manifest(config, [layer]))
    assert_client_error(response)
    assert tag not in (client.tags(repo).json().get("tags") or [])


def test_longest_valid_tag(client: RegistryClient, repo: str) -> None:
    tag = "T" + "_" * 64 + "9" * 63
    assert len(tag) == 128
    assert_serves(client, repo, tag, client.push_image(repo, tag))


def test_unknown_manifest_is_404_manifest_unknown(client: RegistryClient, repo: str) -> None:
    client.push_image(repo, "exists")
    assert_error(client.get_manifest(repo, "missing"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get_manifest(repo, unused_digest()), 404, "MANIFEST_UNKNOWN")
    assert client.http.head(f"/v2/{repo}/manifests/missing").status_code == 404


@pytest.mark.parametrize("reference", [".INVALID_MANIFEST_NAME", "-dash", "sha256:xyz", "md5:abc", "a" * 200])
def test_reading_an_invalid_reference_is_404_manifest_unknown(
    client: RegistryClient, repo: str, reference: str
) -> None:
    client.push_image(repo, "exists")
    assert_error(client.get_manifest(repo, reference), 404, "MANIFEST_UNKNOWN")
    assert client.http.head(f"/v2/{repo}/manifests/{reference}").status_code == 404


def test_pushing_to_an_invalid_tag_stays_400(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    response = client.put_manifest(repo, ".INVALID_MANIFEST_NAME", image_manifest(config, [layer]))
    assert_error(response, 400, "MANIFEST_INVALID")


def test_manifest_in_unknown_repository_is_404(client: RegistryClient, repo: str) -> None:
    assert_error(client.get_manifest(repo + "/absent", "latest"), 404, "MANIFEST_UNKNOWN")


def test_manifest_is_not_readable_from_another_repository(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(f"{repo}/a", "v1")
    client.push_image(f"{repo}/b", "v1", seed="b")
    assert_error(client.get_manifest(f"{repo}/b", pushed.digest), 404, "MANIFEST_UNKNOWN")


# -- multi-tag push and subject ------------------------------------------------------------------


def test_push_by_digest_with_several_tags(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    digest = digest_of(body)
    tags = ["alpha", "beta", "gamma"]
    response = client.put_manifest(repo, digest, body, params=[("tag", tag) for tag in tags])
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert sorted(response.headers.get_list("oci-tag", split_commas=True)) == tags
    pushed = Pushed(body, OCI_MANIFEST, digest, response)
    for tag in tags:
        assert_serves(client, repo, tag, pushed)
    assert set(tags) <= set(client.tags(repo).json()["tags"])


def test_manifest_with_missing_subject_is_accepted_with_oci_subject(client: RegistryClient, repo: str) -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": unused_digest(), "size": 321}
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer], subject=subject, artifact_type="application/vnd.example.sig")
    pushed = client.push_manifest(repo, None, body)
    assert pushed.headers["oci-subject"] == subject["digest"]
    assert_serves(client, repo, pushed.digest, pushed)


def test_manifest_with_present_subject_answers_oci_subject(client: RegistryClient, repo: str) -> None:
    subject = client.push_image(repo, "base")
    referrer = client.push_artifact(repo, subject, "application/vnd.example.sig")
    assert referrer.headers["oci-subject"] == subject.digest


# -- deletion ------------------------------------------------------------------------------------


def test_delete_by_tag_untags_only(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, "keep")
    response = client.http.put(
        f"/v2/{repo}/manifests/drop", content=pushed.body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert response.status_code == 201
    assert client.delete(f"/v2/{repo}/manifests/drop").status_code == 202
    assert_error(client.get_manifest(repo, "drop"), 404, "MANIFEST_UNKNOWN")
    assert_serves(client, repo, "keep", pushed)
    assert_serves(client, repo, pushed.digest, pushed)
    assert "drop" not in client.tags(repo).json()["tags"]


def test_delete_by_digest_removes_the_manifest_and_its_tags(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, "doomed")
    other = client.push_image(repo, "survivor", seed="other")
    assert client.delete(f"/v2/{repo}/manifests/{pushed.digest}").status_code == 202
    assert_error(client.get_manifest(repo, pushed.digest), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get_manifest(repo, "doomed"), 404, "MANIFEST_UNKNOWN")
    assert_serves(client, repo, "survivor", other)
    assert client.tags(repo).json()["tags"] == ["survivor"]


def test_delete_unknown_manifest_is_404(client: RegistryClient, repo: str) -> None:
    client.push_image(repo, "exists")
    assert_error(client.delete(f"/v2/{repo}/manifests/{unused_digest()}"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.delete(f"/v2/{repo}/manifests/no-such-tag"), 404, "MANIFEST_UNKNOWN")


def test_manifest_can_be_pushed_again_after_deletion(client: RegistryClient, repo: str) -> None:
    pushed = client.push_image(repo, "phoenix")
    assert client.delete(f"/v2/{repo}/manifests/{pushed.digest}").status_code == 202
    again = client.push_manifest(repo, "phoenix", pushed.body)
    assert_serves(client, repo, "phoenix", again)


def test_delete_manifest_with_malformed_digest_is_400(client: RegistryClient, repo: str) -> None:
    client.push_image(repo, "exists")
    assert_error(client.delete(f"/v2/{repo}/manifests/sha256:zzz"), 400, "DIGEST_INVALID")


def test_fresh_repository_name_each_time(client: RegistryClient, repo: str) -> None:
    name = f"{repo}/{uuid.uuid4().hex}"
    pushed = client.push_image(name, "latest")
    assert_serves(client, name, "latest", pushed)
    assert client.tags(name).json() == {"name": name, "tags": ["latest"]}


def test_index_referencing_a_blob_as_child_is_accepted_or_rejected_cleanly(client: RegistryClient, repo: str) -> None:
    blob = b"just a blob"
    client.push_blob(repo, blob)
    body = index_manifest([{"mediaType": OCI_MANIFEST, "digest": digest_of(blob), "size": len(blob)}])
    response = client.put_manifest(repo, "odd", body, OCI_INDEX)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_client_error(response)


def test_content_type_parameters_are_ignored(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    response = client.put_manifest(repo, "params", body, media_type=OCI_MANIFEST + "; charset=utf-8")
    assert response.status_code == 201, response.text
    served = client.get_manifest(repo, "params")
    assert served.headers["content-type"] == OCI_MANIFEST
    assert served.content == body


def test_push_with_an_invalid_tag_among_several_creates_no_tag(client: RegistryClient, repo: str) -> None:
    config, layer = push_config_and_layer(client, repo)
    body = image_manifest(config, [layer])
    client.push_image(repo, "existing")
    response = client.put_manifest(repo, digest_of(body), body, params=[("tag", "good"), ("tag", "-bad")])
    assert_client_error(response)
    assert "good" not in client.tags(repo).json()["tags"]
