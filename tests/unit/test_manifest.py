import base64
import json
from typing import Any

import pytest

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import parse_manifest

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": str(Digest.of(b"{}")), "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": str(Digest.of(b"layer")), "size": 5}


def image(**fields: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER], **fields}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def invalid(body: bytes, content_type: str | None = mediatypes.OCI_MANIFEST) -> str:
    with pytest.raises(RegistryError) as raised:
        parse_manifest(body, content_type)
    assert raised.value.code is ErrorCode.MANIFEST_INVALID
    return raised.value.message


def test_image_manifest_references_config_and_layers() -> None:
    manifest = parse_manifest(encode(image()), mediatypes.OCI_MANIFEST)
    assert manifest.media_type == mediatypes.OCI_MANIFEST
    assert [str(d.digest) for d in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]
    assert manifest.children == ()
    assert manifest.subject is None
    assert manifest.artifact_type == CONFIG["mediaType"]  # what the referrers API reports


def test_artifact_with_subject_and_artifact_type() -> None:
    subject = {"mediaType": mediatypes.OCI_MANIFEST, "digest": str(Digest.of(b"s")), "size": 1}
    body = encode(image(artifactType="application/vnd.example+type", subject=subject, annotations={"k": "v"}))
    manifest = parse_manifest(body, mediatypes.OCI_MANIFEST)
    assert manifest.artifact_type == "application/vnd.example+type"
    assert manifest.subject is not None
    assert str(manifest.subject.digest) == subject["digest"]
    assert manifest.annotations == {"k": "v"}


def test_index_references_children_not_blobs() -> None:
    child = {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": str(Digest.of(b"c")),
        "size": 1,
        "platform": {"architecture": "arm64", "os": "linux"},
    }
    body = encode({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [child]})
    manifest = parse_manifest(body, mediatypes.OCI_INDEX)
    assert [str(d.digest) for d in manifest.children] == [child["digest"]]
    assert manifest.blobs == ()


def test_docker_schema2_and_manifest_list() -> None:
    docker = image(mediaType=mediatypes.DOCKER_MANIFEST)
    assert parse_manifest(encode(docker), mediatypes.DOCKER_MANIFEST).media_type == mediatypes.DOCKER_MANIFEST
    listing = {"schemaVersion": 2, "mediaType": mediatypes.DOCKER_MANIFEST_LIST, "manifests": []}
    parsed = parse_manifest(encode(listing), mediatypes.DOCKER_MANIFEST_LIST)
    assert parsed.media_type == mediatypes.DOCKER_MANIFEST_LIST


def test_media_type_may_come_from_the_content_type_alone() -> None:
    document = image()
    del document["mediaType"]
    assert parse_manifest(encode(document), mediatypes.OCI_MANIFEST).media_type == mediatypes.OCI_MANIFEST
    assert "unsupported manifest media type" in invalid(encode(document), None)


def test_non_distributable_layers_with_urls_need_not_be_pushed() -> None:
    foreign = {**LAYER, "digest": str(Digest.of(b"foreign")), "urls": ["https://example.com/layer"]}
    manifest = parse_manifest(encode(image(layers=[LAYER, foreign])), mediatypes.OCI_MANIFEST)
    assert [str(d.digest) for d in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]


def test_embedded_data_must_match_its_digest() -> None:
    good = {**CONFIG, "data": base64.b64encode(b"{}").decode()}
    assert parse_manifest(encode(image(config=good)), mediatypes.OCI_MANIFEST)
    assert "data does not match" in invalid(encode(image(config={**CONFIG, "data": base64.b64encode(b"[]").decode()})))
    assert "base64" in invalid(encode(image(config={**CONFIG, "data": "***"})))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (encode(image(schemaVersion=1)), "schemaVersion"),
        (encode(image(config="x")), "config must be a descriptor"),
        (encode(image(layers={})), "layers must be a list"),
        (encode(image(layers=[{**LAYER, "size": -1}])), "size"),
        (encode(image(layers=[{**LAYER, "size": True}])), "size"),
        (encode(image(layers=[{**LAYER, "digest": "sha256:bad"}])), "layers[0]"),
        (encode(image(layers=[{**LAYER, "mediaType": ""}])), "mediaType"),
        (encode(image(layers=[{**LAYER, "urls": "x"}])), "urls"),
        (encode(image(annotations={"k": 1})), "annotations"),
        (encode(image(artifactType=3)), "artifactType"),
        (encode(image(subject="x")), "subject"),
        (encode(image(mediaType="application/json")), "does not match"),
    ],
)
def test_malformed_manifests_are_manifest_invalid(body: bytes, expected: str) -> None:
    assert expected in invalid(body)


def test_content_type_must_agree_with_the_declared_media_type() -> None:
    assert "does not match" in invalid(encode(image()), mediatypes.DOCKER_MANIFEST)


def test_docker_schema1_is_refused_with_a_clear_message() -> None:
    body = encode({"schemaVersion": 1, "mediaType": mediatypes.DOCKER_SCHEMA1[1]})
    assert "schema 1" in invalid(body, mediatypes.DOCKER_SCHEMA1[1])
