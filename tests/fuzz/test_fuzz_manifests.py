"""Manifests and indexes as untrusted bytes: whatever arrives is a manifest whose every field the
registry keeps is well-formed and storable, or MANIFEST_INVALID; never another exception."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, outcome, tricky_text

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import Manifest, parse_manifest

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(),  # NaN and infinities included: Python writes and reads them, JSON has neither
    tricky_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=10,
)
media_types = st.one_of(
    st.sampled_from(sorted(mediatypes.MANIFESTS)),
    st.sampled_from(["application/vnd.oci.image.config.v1+json", "application/vnd.oci.empty.v1+json", ""]),
    st.sampled_from(mediatypes.DOCKER_SCHEMA1),
    tricky_text,
)
digests = st.one_of(
    st.binary(max_size=8).map(lambda data: str(Digest.of(data))),
    st.binary(max_size=8).map(lambda data: str(Digest.of(data, "sha512"))),
    tricky_text,
)


good_descriptors = st.builds(
    lambda data, media_type, algorithm: {
        "mediaType": media_type,
        "digest": str(Digest.of(data, algorithm)),
        "size": len(data),
    },
    st.binary(max_size=8),
    st.sampled_from(["application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.config.v1+json"]),
    st.sampled_from(["sha256", "sha512"]),
)
images = st.fixed_dictionaries(
    {
        "schemaVersion": st.just(2),
        "mediaType": st.sampled_from(sorted(mediatypes.IMAGE_MANIFESTS)),
        "config": good_descriptors,
        "layers": st.lists(good_descriptors, max_size=3),
    }
)
indexes = st.fixed_dictionaries(
    {
        "schemaVersion": st.just(2),
        "mediaType": st.sampled_from(sorted(mediatypes.INDEXES)),
        "manifests": st.lists(good_descriptors, max_size=3),
    }
)
# Where a mutation lands: a top-level field, or a field of the config, a layer, a child or the subject.
_TOP_FIELDS = ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations"]
_DESCRIPTOR_FIELDS = ["mediaType", "digest", "size", "urls", "annotations", "artifactType", "data", "platform"]
embedded_data = st.binary(max_size=8).map(lambda raw: base64.b64encode(raw).decode())
mutation_values = st.one_of(
    json_values, media_types, digests, embedded_data, good_descriptors, st.lists(good_descriptors, max_size=2)
)
mutations = st.lists(
    st.tuples(
        st.sampled_from(["", "config", "layers", "manifests", "subject"]),
        st.one_of(st.sampled_from(_TOP_FIELDS), st.sampled_from(_DESCRIPTOR_FIELDS), tricky_text),
        mutation_values,
    ),
    max_size=3,
)


def _mutated(document: dict[str, Any], changes: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """The document with each change applied: a field set at the top, or inside the descriptor named
    (the first of a list), created where it is missing."""
    document = json.loads(json.dumps(document))
    for where, field, value in changes:
        target = document
        if where:
            holder = document.setdefault(where, {})
            if isinstance(holder, list):
                holder = holder[0] if holder and isinstance(holder[0], dict) else None
            target = holder if isinstance(holder, dict) else document
        target[field] = value
    return document


documents = st.builds(_mutated, st.one_of(images, indexes), mutations)


def _encode(document: Any) -> bytes:
    # allow_nan: what a careless client writes; surrogatepass: lone surrogates become bytes, not errors.
    return json.dumps(document, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    documents.map(_encode),
    documents.map(lambda document: json.dumps(document).encode()),  # \\u escapes: lone surrogates too
    json_values.map(_encode),
    st.binary(max_size=64),
)
content_types = st.one_of(st.none(), media_types, media_types.map(lambda media_type: media_type + "; charset=utf-8"))


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
@given(bodies, content_types)
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
        assert len(result.message) < 400
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
