"""Repository names, tags, manifest references and digests: whatever a client writes in a path, a
parser either accepts it as something harmless or refuses it with the spec's error code."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, MESSAGE_MAX, outcome, tricky_text

from dockyard.core.digest import SUPPORTED_ALGORITHMS, Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.names import MAX_NAME_LENGTH, is_name, parse_reference, validate_name, validate_tag

_ALNUM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--"])
# A name component as the grammar has it: alphanumeric runs joined by single separators.
_COMPONENT = st.builds(
    lambda first, rest: first + "".join(sep + run for sep, run in rest),
    _ALNUM,
    st.lists(st.tuples(_SEPARATOR, _ALNUM), max_size=3),
)
grammatical_names = st.lists(_COMPONENT, min_size=1, max_size=6).map("/".join)
# Names that are almost right: grammatical pieces joined by what the grammar forbids between them.
_FORBIDDEN = st.sampled_from(["..", ".", "", "-", "_", "__", "A", "é"])
near_names = st.lists(st.one_of(_COMPONENT, _FORBIDDEN), max_size=6).map("/".join)
names = st.one_of(grammatical_names, near_names, tricky_text)

hex_digests = st.sampled_from(SUPPORTED_ALGORITHMS).flatmap(
    lambda algorithm: st.binary(max_size=16).map(lambda data: f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}")
)
digest_like = st.builds(
    "{}:{}".format,
    st.one_of(st.sampled_from([*SUPPORTED_ALGORITHMS, "md5", "sha256+b64", "SHA256", ""]), tricky_text),
    st.one_of(st.text(alphabet="0123456789abcdefABCDEF=_-", max_size=130), tricky_text),
)
digests = st.one_of(hex_digests, digest_like, tricky_text)


@FUZZ
@given(names)
@example("a/../b")
@example("../" * 60 + "etc")
@example("a" * (MAX_NAME_LENGTH + 1))
def test_a_name_is_valid_or_name_invalid(name: str) -> None:
    result = outcome(validate_name, name)
    if isinstance(result, Exception):
        assert isinstance(result, RegistryError)
        assert result.code is ErrorCode.NAME_INVALID
        assert not is_name(name)
        assert len(result.message) < MESSAGE_MAX
        return
    assert result == name
    assert is_name(name)
    # What a valid name can never do once it is used as a path below a data directory.
    parts = name.split("/")
    assert all(part not in ("", ".", "..") for part in parts)
    assert name.isascii()
    assert name == name.lower()
    assert len(name) <= MAX_NAME_LENGTH
    root = PurePosixPath("/data/repositories")
    assert (root / name).parts[: len(root.parts)] == root.parts
    assert ".." not in (root / name).parts


@FUZZ
@given(grammatical_names)
def test_every_grammatical_name_up_to_the_limit_is_valid(name: str) -> None:
    assert is_name(name) == (len(name) <= MAX_NAME_LENGTH)


@FUZZ
@given(st.one_of(tricky_text, st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,140}", fullmatch=True)))
def test_a_tag_is_valid_or_manifest_invalid(tag: str) -> None:
    result = outcome(validate_tag, tag)
    if isinstance(result, Exception):
        assert isinstance(result, RegistryError)
        assert result.code is ErrorCode.MANIFEST_INVALID
        return
    assert result == tag
    assert 1 <= len(tag) <= 128
    assert tag.isascii()
    assert not set(tag) & set("/:@")


@FUZZ
@given(digests)
@example("sha256:" + "0" * 64)
@example("sha512:" + "f" * 128)
@example("sha256:" + "0" * 5000)
def test_a_digest_parses_and_round_trips_or_is_digest_invalid(text: str) -> None:
    digest = outcome(Digest.parse, text)
    if isinstance(digest, Exception):
        assert isinstance(digest, RegistryError)
        assert digest.code is ErrorCode.DIGEST_INVALID
        assert len(digest.message) < MESSAGE_MAX
        return
    assert str(digest) == text
    assert Digest.parse(str(digest)) == digest
    assert digest.algorithm in SUPPORTED_ALGORITHMS
    # The parts become file and object names: lowercase hex only, never a separator.
    assert set(digest.encoded) <= set("0123456789abcdef")
    assert len(digest.encoded) == hashlib.new(digest.algorithm).digest_size * 2


@FUZZ
@given(hex_digests)
def test_computed_digests_parse_back(text: str) -> None:
    digest = Digest.parse(text)
    assert digest.matches(b"") == (text == str(Digest.of(b"", digest.algorithm)))


@FUZZ
@given(st.one_of(digests, tricky_text))
def test_a_reference_is_a_tag_or_a_digest_or_refused(reference: str) -> None:
    parsed = outcome(parse_reference, reference)
    if isinstance(parsed, Exception):
        assert isinstance(parsed, RegistryError)
        assert parsed.code in (ErrorCode.MANIFEST_INVALID, ErrorCode.DIGEST_INVALID)
        return
    assert str(parsed) == reference
    assert isinstance(parsed, Digest) == (":" in reference)
