"""Strategies for manifests and indexes: well-formed ones built from descriptors, then mutated
field by field into anything JSON (and Python's looser JSON) can hold, and encoded as a careless or a
hostile client would."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st
from tests.fuzz.strategies import tricky_text

from dockyard.core import mediatypes
from dockyard.core.digest import Digest

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


random_descriptors = st.builds(
    lambda data, media_type, algorithm: {
        "mediaType": media_type,
        "digest": str(Digest.of(data, algorithm)),
        "size": len(data),
    },
    st.binary(max_size=8),
    st.sampled_from(["application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.config.v1+json"]),
    st.sampled_from(["sha256", "sha512"]),
)
# Where a mutation lands: a top-level field, or a field of the config, a layer, a child or the subject.
_TOP_FIELDS = ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations"]
_DESCRIPTOR_FIELDS = ["mediaType", "digest", "size", "urls", "annotations", "artifactType", "data", "platform"]
embedded_data = st.binary(max_size=8).map(lambda raw: base64.b64encode(raw).decode())


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


def documents(descriptors: st.SearchStrategy[dict[str, Any]] = random_descriptors) -> st.SearchStrategy[dict[str, Any]]:
    """Image manifests and indexes of these descriptors, with up to three fields changed."""
    images = st.fixed_dictionaries(
        {
            "schemaVersion": st.just(2),
            "mediaType": st.sampled_from(sorted(mediatypes.IMAGE_MANIFESTS)),
            "config": descriptors,
            "layers": st.lists(descriptors, max_size=3),
        }
    )
    indexes = st.fixed_dictionaries(
        {
            "schemaVersion": st.just(2),
            "mediaType": st.sampled_from(sorted(mediatypes.INDEXES)),
            "manifests": st.lists(descriptors, max_size=3),
        }
    )
    values = st.one_of(json_values, media_types, digests, embedded_data, descriptors, st.lists(descriptors, max_size=2))
    mutations = st.lists(
        st.tuples(
            st.sampled_from(["", "config", "layers", "manifests", "subject"]),
            st.one_of(st.sampled_from(_TOP_FIELDS), st.sampled_from(_DESCRIPTOR_FIELDS), tricky_text),
            values,
        ),
        max_size=3,
    )
    return st.builds(_mutated, st.one_of(images, indexes), mutations)


def _encode(document: Any) -> bytes:
    # allow_nan: what a careless client writes; surrogatepass: lone surrogates become bytes, not errors.
    return json.dumps(document, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def bodies(descriptors: st.SearchStrategy[dict[str, Any]] = random_descriptors) -> st.SearchStrategy[bytes]:
    """Manifest bodies as sent: mutated documents written loosely (NaN, raw lone surrogates) or with
    escapes, any JSON, any bytes."""
    return st.one_of(
        documents(descriptors).map(_encode),
        documents(descriptors).map(lambda document: json.dumps(document).encode()),  # \\u escapes
        json_values.map(_encode),
        st.binary(max_size=64),
    )


content_types = st.one_of(st.none(), media_types, media_types.map(lambda media_type: media_type + "; charset=utf-8"))
