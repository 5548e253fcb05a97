import pytest

from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.names import parse_reference, validate_name, validate_tag


@pytest.mark.parametrize(
    "name", ["a", "library/ubuntu", "a/b/c/d", "my-app", "my__app", "my.app", "a--b", "0", "x" * 255]
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "Library/ubuntu",
        "a//b",
        "/a",
        "a/",
        "-a",
        "a-",
        "a_b_",
        "a___b",
        "../etc",
        "a/../b",
        "a/./b",
        "a b",
        "a\x00b",
        "a:b",
        "x" * 256,
        "é",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as raised:
        validate_name(name)
    assert raised.value.code is ErrorCode.NAME_INVALID


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "_x", "1", "A-b_c.d", "a" * 128])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag
    assert parse_reference(tag) == tag


@pytest.mark.parametrize("tag", ["", ".a", "-a", "a" * 129, "a/b", "a b", "ä"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(RegistryError) as raised:
        validate_tag(tag)
    assert raised.value.code is ErrorCode.MANIFEST_INVALID


def test_a_reference_with_a_colon_is_a_digest() -> None:
    digest = "sha256:" + "0" * 64
    assert parse_reference(digest) == Digest.parse(digest)
    with pytest.raises(RegistryError) as raised:
        parse_reference("sha256:nothex")
    assert raised.value.code is ErrorCode.DIGEST_INVALID
