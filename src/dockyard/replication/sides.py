"""The two sides of a copy, as the copier sees them: this registry (local.py) and another one
(remote_side.py). A rule reads from one and writes to the other, whichever way it points."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

ChunksFrom = Callable[[int], AsyncIterable[bytes]]
"""A blob's bytes from an offset to its end."""

# Blobs larger than this are sent in chunks of CHUNK_BYTES, so that a broken transfer resumes from
# the last chunk the other side holds instead of from the start.
LARGE_BLOB_BYTES = 32 << 20
CHUNK_BYTES = 16 << 20
# Failures of one blob's transfer resumed within a run before the run gives up on it.
BLOB_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes


class Side(Protocol):
    """Names are repository names on this side; digests are `algorithm:hex` strings."""

    @property
    def label(self) -> str:
        """How messages name this side."""
        ...

    def repositories(self, covers: Callable[[str], bool], literal: list[str] | None) -> AsyncIterator[str]:
        """The repositories `covers` accepts (`literal`: exactly these, where they exist)."""
        ...

    async def tags(self, repository: str) -> list[str]:
        """Every tag; empty when the repository does not exist."""
        ...

    async def resolve(self, repository: str, tag: str) -> str | None:
        """The digest the tag points at, or None."""
        ...

    async def tags_of(self, repository: str, digest: str) -> list[str] | None:
        """The tags pointing at a manifest, when this side can tell cheaply (None: ask `resolve`)."""
        ...

    async def manifest(self, repository: str, digest: str) -> Manifest: ...

    async def has_manifest(self, repository: str, digest: str) -> bool: ...

    async def referrers(self, repository: str, digest: str) -> list[str]:
        """The digests of the manifests whose subject is `digest`."""
        ...

    async def holders(self, digest: str) -> list[str]:
        """Some repositories holding the blob (for mounts on the other side); empty when unknown."""
        ...

    async def blob_size(self, repository: str, digest: str) -> int | None: ...

    def read_blob(self, repository: str, digest: str, offset: int) -> AsyncIterator[bytes]: ...

    async def mount(self, repository: str, digest: str, candidates: list[str]) -> bool:
        """Link a blob this side holds elsewhere (in one of `candidates`, if it cannot look itself)."""
        ...

    async def write_blob(self, repository: str, digest: str, size: int, chunks: ChunksFrom) -> None:
        """Store a blob whose bytes `chunks` gives from any offset, resuming a broken transfer."""
        ...

    async def put_manifest(self, repository: str, manifest: Manifest, tags: tuple[str, ...]) -> None:
        """Store the manifest byte for byte, under its digest and the tags."""
        ...

    async def delete_tag(self, repository: str, tag: str) -> bool:
        """Remove the tag alone; False where this side cannot (it may delete whole manifests)."""
        ...

    async def delete_manifest(self, repository: str, digest: str) -> None: ...
