import hashlib

import pytest

from dockyard.core.digest import Digest, new_hasher
from dockyard.core.errors import ErrorCode, RegistryError

SHA256_EMPTY = "sha256:" + hashlib.sha256(b"").hexdigest()
SHA512_ABC = "sha512:" + hashlib.sha512(b"abc").hexdigest()


@pytest.mark.parametrize("text", [SHA256_EMPTY, SHA512_ABC])
def test_parse_round_trips(text: str) -> None:
    assert str(Digest.parse(text)) == text


def test_of_computes_the_digest_of_the_bytes() -> None:
    assert str(Digest.of(b"")) == SHA256_EMPTY
    assert str(Digest.of(b"abc", "sha512")) == SHA512_ABC
    assert Digest.parse(SHA512_ABC).matches(b"abc")
    assert not Digest.parse(SHA512_ABC).matches(b"abd")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        ":abc",
        "sha256:" + "A" * 64,  # registered algorithms are lower-case hex only
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha512:" + "a" * 64,
        "md5:d41d8cd98f00b204e9800998ecf8427e",  # well-formed, but not an algorithm dockyard computes
        "sha256:../../etc/passwd",
        "sha256:" + "a" * 60 + "/../",
        "SHA256:" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",
        "x" * 10_000,
    ],
)
def test_malformed_or_unsupported_digests_are_digest_invalid(text: str) -> None:
    with pytest.raises(RegistryError) as raised:
        Digest.parse(text)
    assert raised.value.code is ErrorCode.DIGEST_INVALID
    assert len(raised.value.message) < 200


def test_hasher_rejects_unknown_algorithms() -> None:
    assert new_hasher("sha512").hexdigest() == hashlib.sha512().hexdigest()
    with pytest.raises(RegistryError):
        new_hasher("md5")
