"""Manifests: stored byte for byte with what they reference, tagged as they are pushed."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.core.manifest import parse_manifest
from dockyard.meta.records import WriteRecord


@dataclass(frozen=True, slots=True)
class ManifestRef:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class NewManifest:
    digest: str
    media_type: str
    body: bytes
    artifact_type: str | None
    subject: str | None
    annotations_json: str | None
    blob_digests: tuple[str, ...]
    child_digests: tuple[str, ...]

    @classmethod
    def of(cls, body: bytes, content_type: str | None, digest: str) -> NewManifest:
        """A manifest to store from its exact bytes; MANIFEST_INVALID when they are not one."""
        manifest = parse_manifest(body, content_type)
        return cls(
            digest=digest,
            media_type=manifest.media_type,
            body=body,
            artifact_type=manifest.artifact_type,
            subject=str(manifest.subject.digest) if manifest.subject else None,
            annotations_json=json.dumps(manifest.annotations) if manifest.annotations else None,
            blob_digests=tuple(str(blob.digest) for blob in manifest.blobs),
            child_digests=tuple(str(child.digest) for child in manifest.children),
        )


class MissingBlobs(Exception):
    """A manifest referenced blobs the repository does not hold."""

    def __init__(self, digests: Sequence[str]):
        super().__init__(", ".join(digests))
        self.digests = list(digests)


class TagMoveRefused(Exception):
    """Tags already point at another manifest and the push may not move them, or point at the manifest
    being deleted and may not be removed."""

    def __init__(self, tags: Sequence[str]):
        super().__init__(", ".join(tags))
        self.tags = list(tags)


class Manifests(Protocol):
    @abstractmethod
    async def put_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tags: Sequence[str],
        require_blobs: bool = True,
        may_move_tags: bool = True,
        *,
        records: Sequence[WriteRecord] = (),
    ) -> None:
        """Store a manifest and point tags at it, atomically; with `require_blobs`, raise MissingBlobs
        first when the repository lacks a blob the manifest references; raise TagMoveRefused when
        a tag points at another digest and `may_move_tags` is false."""

    @abstractmethod
    async def manifest_by_digest(self, repository: str, digest: str) -> ManifestRef | None: ...

    @abstractmethod
    async def manifest_body(self, repository: str, digest: str) -> bytes | None: ...

    @abstractmethod
    async def delete_manifest(
        self,
        repository: str,
        digest: str,
        records: Sequence[WriteRecord] = (),
        *,
        protected: Callable[[str], bool] | None = None,
    ) -> bool:
        """Delete a manifest and every tag pointing at it; the records only if it existed. Raise
        TagMoveRefused instead when a tag pointing at it is `protected` (decided in the deleting
        transaction, so a tag put there meanwhile counts)."""
