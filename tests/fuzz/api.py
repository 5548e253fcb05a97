"""What the API fuzz adds to the cases schemathesis draws from the OpenAPI description.

The description names parameters as plain strings and no bodies at all, so most drawn cases would
stop at the first parser. Each case is therefore dressed: either wholly with what gets as deep as
the operation goes (names, digests, tags and upload ids that exist on the server, manifests of its
blobs, valid credentials), or part by part with realistic or hostile values (mutated manifests,
chunks with odd Content-Range, Range headers, garbage Authorization), or left as drawn. The
Authorization header names a kind (valid, wrong) that is filled in for the server under test when
the case is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from tests.fuzz import targets
from tests.fuzz.manifests import bodies, content_types, documents
from tests.fuzz.strategies import numbers, tricky_text
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER

# Placeholders of the Authorization header, replaced by the target's credentials when sent.
VALID, WRONG = "<valid credentials>", "<wrong credentials>"

_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def _header(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Values a client can send at all: printable ASCII without leading space (requests refuses
    anything else before it reaches the server)."""
    return strategy.filter(lambda text: text.isascii() and text.isprintable()).map(str.lstrip)


_grammatical = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}(?:/[a-z0-9]{1,8}){0,2}", fullmatch=True)
_tags = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}", fullmatch=True)
_small = st.integers(min_value=0, max_value=64).map(str)
_positions = st.one_of(st.just(""), numbers)
_seeded_blob_digests = st.sampled_from(targets.BLOB_DIGESTS)
_seeded_descriptors = st.sampled_from(
    [
        {"mediaType": OCI_CONFIG, "digest": targets.digest_of(targets.CONFIG), "size": len(targets.CONFIG)},
        {"mediaType": OCI_LAYER, "digest": targets.digest_of(targets.LAYER), "size": len(targets.LAYER)},
        targets.IMAGE_DESCRIPTOR,
    ]
)


def _live_upload(index: int) -> str:
    """One of the sessions open on the server now (read when drawn: they are opened per operation)."""
    live = targets.LIVE_UPLOADS
    return live[index % len(live)] if live else "no-session-open"


class Part:
    """A part of a request: values that get past the parsers (that exist on the server), and hostile ones."""

    def __init__(self, realistic: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]):
        self.realistic = realistic
        self.hostile = hostile


NAME = Part(st.sampled_from([targets.REPOSITORY, targets.OTHER_REPOSITORY]), st.one_of(_grammatical, tricky_text))
DIGEST = Part(
    st.sampled_from([*targets.BLOB_DIGESTS, *targets.MANIFEST_DIGESTS]),
    st.one_of(st.binary(max_size=4).map(targets.digest_of), tricky_text),
)
BLOB_DIGEST = Part(_seeded_blob_digests, DIGEST.hostile)
REFERENCE = Part(st.one_of(st.sampled_from([targets.TAG, *targets.MANIFEST_DIGESTS]), _tags), tricky_text)
UPLOAD = Part(st.integers(min_value=0, max_value=63).map(_live_upload), st.one_of(st.uuids().map(str), tricky_text))
RANGE = Part(
    st.builds("bytes={}-{}".format, _small, _small),
    _header(st.one_of(st.builds("bytes={}-{}".format, _positions, _positions), _HEADER_TEXT)),
)
# Realistic: none (the chunk streams on); a range that matches the chunk's length is rarely drawn.
CONTENT_RANGE = Part(
    st.none(),
    _header(st.one_of(st.builds("{}-{}".format, _small, _small), st.builds("{}-{}".format, numbers, numbers))),
)
PAGE_SIZE = Part(_small, numbers)
LAST = Part(_tags, tricky_text)
ARTIFACT_TYPE = Part(st.just("application/vnd.example.sbom"), content_types)
# Realistic: none, and the body goes with the media type it declares (see `dress`).
MANIFEST_TYPE = Part(st.none(), _header(content_types.filter(bool)))
MANIFEST = Part(documents(_seeded_descriptors).map(lambda doc: json.dumps(doc).encode()), bodies(_seeded_descriptors))
CHUNK = Part(st.sampled_from(targets.BLOBS), st.binary(max_size=64))
TAGS = Part(st.lists(_tags, max_size=3), st.lists(REFERENCE.hostile, max_size=3))
AUTHORIZATION = Part(
    st.just(VALID),
    st.one_of(
        st.sampled_from([WRONG, None]),
        _header(st.builds("{} {}".format, st.sampled_from(["Basic", "Bearer", "bearer", "Digest", ""]), _HEADER_TEXT)),
    ),
)
Pick = Callable[[Part], st.SearchStrategy[Any]]


def _deep(part: Part) -> st.SearchStrategy[Any]:
    return part.realistic


def _mixed(part: Part) -> st.SearchStrategy[Any]:
    """A realistic or a hostile value, or None: keep what schemathesis drew."""
    return st.one_of(st.none(), part.realistic, part.hostile)


def _parts(method: str, path: str, pick: Pick) -> dict[str, st.SearchStrategy[Any]]:
    """For one operation: path parameters, query, headers and body, each part picked from its Part."""
    path_parameters = {"name": pick(NAME)}
    query: dict[str, st.SearchStrategy[Any]] = {}
    headers = {"Authorization": pick(AUTHORIZATION)}
    body: st.SearchStrategy[Any] = st.none()
    if "{digest}" in path:
        path_parameters["digest"] = pick(DIGEST)
    if path.endswith("/manifests/{reference}"):
        path_parameters["reference"] = pick(REFERENCE)
    if path.endswith("/uploads/{reference}"):
        path_parameters["reference"] = pick(UPLOAD)
    if path.endswith("/blobs/{digest}") and method == "GET":
        headers["Range"] = pick(RANGE)
    if path.endswith("/tags/list"):
        query = {"n": pick(PAGE_SIZE), "last": pick(LAST)}
    if path.endswith("/referrers/{digest}"):
        query = {"artifactType": pick(ARTIFACT_TYPE)}
    if path.endswith("/blobs/uploads/") and method == "POST":
        query = {"digest": pick(BLOB_DIGEST), "mount": pick(BLOB_DIGEST), "from": pick(NAME)}
        body = pick(CHUNK)
    if path.endswith("/uploads/{reference}") and method in ("PATCH", "PUT"):
        headers["Content-Range"] = pick(CONTENT_RANGE)
        body = pick(CHUNK)
        if method == "PUT":
            query = {"digest": pick(BLOB_DIGEST)}
    if path.endswith("/manifests/{reference}") and method == "PUT":
        headers["Content-Type"] = pick(MANIFEST_TYPE)
        body = pick(MANIFEST)
        query = {"tag": pick(TAGS)}
    return {
        "path_parameters": st.fixed_dictionaries(path_parameters),
        "query": st.fixed_dictionaries(query),
        "headers": st.fixed_dictionaries(headers),
        "body": body,
    }


def dressing(method: str, path: str) -> st.SearchStrategy[dict[str, Any]]:
    """Either every part realistic (a request that gets as deep as the operation goes, hostile only
    where schemathesis made it so) or each part realistic, hostile or left alone."""
    return st.one_of(
        st.fixed_dictionaries(_parts(method, path, _deep)), st.fixed_dictionaries(_parts(method, path, _mixed))
    )


def dress(case: Any, extras: dict[str, Any]) -> Any:
    """Lay the drawn extras over the case (None leaves schemathesis's own value)."""
    for part in ("path_parameters", "query", "headers"):
        current = getattr(case, part) or {}
        for key, value in extras[part].items():
            if value is not None:
                current[key] = value
        setattr(case, part, current)
    body = extras["body"]
    if body is not None:
        case.body = body
        case.media_type = "application/octet-stream"  # sent as it is; the header may say otherwise
        declared = _declared_type(body)
        if declared is not None and "Content-Type" not in case.headers:
            case.headers["Content-Type"] = declared
    return case


def _declared_type(body: bytes) -> str | None:
    """The `mediaType` a JSON body declares, if it is one a header can carry."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    declared = document.get("mediaType") if isinstance(document, dict) else None
    return declared if isinstance(declared, str) and declared.isascii() and declared.isprintable() else None


def install(schema: Any) -> None:
    """Register the dressing as a hook of this schema only."""

    @schema.hook
    def before_generate_case(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        operation = context.operation
        extras = dressing(operation.method.upper(), operation.path)
        return st.tuples(strategy, extras).map(lambda drawn: dress(*drawn))
