"""Content digests (`algorithm:encoded`), as defined by the OCI image specification."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from dockyard.core.errors import ErrorCode, RegistryError

# The general grammar, and the encodings of the algorithms dockyard computes.
_DIGEST_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_ENCODINGS = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
SUPPORTED_ALGORITHMS = tuple(_ENCODINGS)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse a digest string; anything malformed or of an unknown algorithm is DIGEST_INVALID."""
        if len(text) > 256 or not _DIGEST_GRAMMAR.fullmatch(text):
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid digest: {text[:80]!r}")
        algorithm, encoded = text.split(":", 1)
        encoding = _ENCODINGS.get(algorithm)
        if encoding is None:
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"unsupported digest algorithm: {algorithm!r}")
        if not encoding.fullmatch(encoded):
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid {algorithm} digest: {text[:80]!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    def matches(self, data: bytes) -> bool:
        return Digest.of(data, self.algorithm) == self


def new_hasher(algorithm: str = "sha256") -> Hasher:
    if algorithm not in _ENCODINGS:
        raise RegistryError(ErrorCode.DIGEST_INVALID, f"unsupported digest algorithm: {algorithm!r}")
    return hashlib.new(algorithm)
