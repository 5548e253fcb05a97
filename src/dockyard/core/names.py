"""Repository names, tags and manifest references."""

from __future__ import annotations

import functools
import re

from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError

_NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# Clients join the registry host and the name into one reference of at most 255 characters.
MAX_NAME_LENGTH = 255


def is_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None


def validate_name(name: str) -> str:
    if not is_name(name):
        raise RegistryError(ErrorCode.NAME_INVALID, f"invalid repository name: {name[:80]!r}")
    return name


def is_tag(text: str) -> bool:
    return _TAG.fullmatch(text) is not None


def validate_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError(ErrorCode.MANIFEST_INVALID, f"invalid tag: {tag[:80]!r}")
    return tag


def parse_reference(reference: str) -> str | Digest:
    """A manifest reference is a tag or a digest; which one is decided by the ':'."""
    if ":" in reference:
        return Digest.parse(reference)
    if not is_tag(reference):
        raise RegistryError(ErrorCode.MANIFEST_INVALID, f"invalid tag: {reference[:80]!r}")
    return reference


@functools.lru_cache(maxsize=4096)
def remembered_reference(reference: str) -> str | Digest:
    """`parse_reference`, remembered: pulls repeat the same references, and a digest's parse is two
    regular expressions and an object. Errors are raised, not remembered."""
    return parse_reference(reference)
