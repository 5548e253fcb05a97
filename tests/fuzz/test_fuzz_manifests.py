"""Manifests and indexes as untrusted bytes: whatever arrives is a manifest whose every field the
registry keeps is well-formed and storable, or MANIFEST_INVALID; never another exception."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.manifests import bodies, content_types, media_types
from tests.fuzz.strategies import FUZZ, MESSAGE_MAX, outcome, tricky_text

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import Manifest, parse_manifest


def _storable(text: str) -> bool:
    """What a database text column takes: UTF-8 without NUL (PostgreSQL refuses NUL, both engines
    refuse lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _check_accepted(manifest: Manifest) -> None:
    assert manifest.media_type in mediatypes.MANIFESTS
    for descriptor in (*manifest.blobs, *manifest.children, *([manifest.subject] if manifest.subject else [])):
        assert Digest.parse(str(descriptor.digest)) == descriptor.digest
        assert isinstance(descriptor.size, int)
        assert descriptor.size >= 0
        assert _storable(descriptor.media_type)
    if manifest.artifact_type is not None:
        assert _storable(manifest.artifact_type)
        assert manifest.artifact_type.isprintable()
    assert json.loads(json.dumps(manifest.annotations)) == manifest.annotations


@FUZZ
@given(bodies(), content_types)
@example(b"[" * 100_000, None)
@example(b'{"schemaVersion": 2, "a": ' + b"{" * 50_000, None)
@example(
    b'{"schemaVersion": 2, "mediaType": "' + mediatypes.OCI_INDEX.encode() + b'", "manifests": [], "x": NaN}', None
)
@example(
    b'{"schemaVersion": 2, "mediaType": "' + mediatypes.OCI_INDEX.encode() + b'", "manifests": [' + b"1" * 5000 + b"]}",
    None,
)
@example(b"\xff\xfe{}", None)
@example(b"\xef\xbb\xbf{}", None)
@example(
    json.dumps(
        {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [], "artifactType": "a/b\x00"}
    ).encode(),
    None,
)
@example(
    json.dumps(
        {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [], "artifactType": "\ud800"}
    ).encode(),
    None,
)
def test_a_body_is_a_manifest_or_manifest_invalid(body: bytes, content_type: str | None) -> None:
    result = outcome(parse_manifest, body, content_type)
    if isinstance(result, Exception):
        assert isinstance(result, RegistryError)
        assert result.code is ErrorCode.MANIFEST_INVALID
        assert len(result.message) < MESSAGE_MAX
        return
    _check_accepted(result)


def _descriptor(data: bytes, media_type: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


blob_contents = st.lists(st.binary(max_size=16), max_size=5, unique=True)
well_formed_types = st.from_regex(r"application/vnd\.[a-z]{1,12}\.[a-z]{1,12}\+json", fullmatch=True)


@FUZZ
@given(blob_contents, st.binary(max_size=16), st.one_of(st.none(), well_formed_types))
def test_image_manifests_give_back_what_they_reference(layers: list[bytes], config: bytes, kind: str | None) -> None:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": _descriptor(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [_descriptor(layer, "application/vnd.oci.image.layer.v1.tar") for layer in layers],
    }
    if kind is not None:
        document["artifactType"] = kind
    manifest = parse_manifest(json.dumps(document).encode(), None)
    assert [str(blob.digest) for blob in manifest.blobs] == [
        d["digest"] for d in (document["config"], *document["layers"])
    ]
    assert manifest.artifact_type == (kind or "application/vnd.oci.image.config.v1+json")


@FUZZ
@given(blob_contents)
def test_indexes_give_back_their_children(children: list[bytes]) -> None:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [_descriptor(child, mediatypes.OCI_MANIFEST) for child in children],
    }
    manifest = parse_manifest(json.dumps(document).encode(), mediatypes.OCI_INDEX)
    assert [str(child.digest) for child in manifest.children] == [d["digest"] for d in document["manifests"]]
    assert manifest.blobs == ()


@FUZZ
@given(st.sampled_from(["layers", "config", "mediaType", "schemaVersion", "annotations"]), st.binary(max_size=8))
def test_a_duplicated_key_is_refused(key: str, content: bytes) -> None:
    """Parsers disagree on which of two equal keys wins: the registry and a client could then see
    different layers (and GC keep other blobs than the client pulls). Such a document is refused."""
    layer = json.dumps([_descriptor(content, "application/vnd.oci.image.layer.v1.tar")])
    config = json.dumps(_descriptor(b"{}", "application/vnd.oci.image.config.v1+json"))
    fields = {
        "schemaVersion": "2",
        "mediaType": json.dumps(mediatypes.OCI_MANIFEST),
        "config": config,
        "layers": layer,
        "annotations": '{"a": "b"}',
    }
    members = [f'"{name}": {value}' for name, value in fields.items()] + [f'"{key}": {fields[key]}']
    body = ("{" + ", ".join(members) + "}").encode()
    result = outcome(parse_manifest, body, None)
    assert isinstance(result, RegistryError)
    assert result.code is ErrorCode.MANIFEST_INVALID


@FUZZ
@given(st.one_of(tricky_text, media_types, st.text(min_size=250, max_size=300)))
@example("application/vnd.oci.image.manifest.v1+json")
@example("text/plain; charset=utf-8")
def test_what_passes_as_a_media_type_is_storable(text: str) -> None:
    if mediatypes.is_media_type(text):
        assert _storable(text)
        assert 0 < len(text) <= mediatypes.MAX_LENGTH
        assert text.isprintable()
