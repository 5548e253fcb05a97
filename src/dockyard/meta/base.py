"""The one interface every metadata backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dockyard.meta.browse import ListQuery, Page, RepositorySummary, TagSummary


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


@dataclass(frozen=True, slots=True)
class Referrer:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations_json: str | None


@dataclass(frozen=True, slots=True)
class UploadSession:
    id: str
    repository: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    """What one repository holds. Blob bytes count each linked blob once (deduplicated within the
    repository); shared bytes are those of its blobs that other repositories link too."""

    repository: str
    manifests: int
    tags: int
    blobs: int
    blob_bytes: int
    shared_bytes: int


class MissingBlobs(Exception):
    """A manifest referenced blobs the repository does not hold."""

    def __init__(self, digests: Sequence[str]):
        super().__init__(", ".join(digests))
        self.digests = list(digests)


class TagMoveRefused(Exception):
    """A push would have moved tags that already point at another digest, and may not."""

    def __init__(self, tags: Sequence[str]):
        super().__init__(", ".join(tags))
        self.tags = list(tags)


class MetadataUnavailable(Exception):
    """The metadata database cannot be reached or refused us; the message says which and why."""


class MetadataStore(ABC):
    """Everything the registry knows besides blob bytes. Safe to share between processes."""

    async def start(self) -> None:  # noqa: B027 - optional: only some engines connect late
        """Connect; called once on the event loop that serves requests, before the first one."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the store answers a query (for readiness checks)."""

    # Runtime settings shared by every process and instance.
    @abstractmethod
    async def read_only(self) -> bool:
        """Whether an operator switched the registry to read-only; may lag a switch by a second."""

    @abstractmethod
    async def set_read_only(self, enabled: bool) -> None: ...

    @abstractmethod
    async def repository_usage(self, limit: int, after: str | None) -> list[RepositoryUsage]:
        """Usage of repositories in name order after `after`."""

    # Blobs: content is global, a repository links the blobs it may serve.
    @abstractmethod
    async def repository_blob_size(self, repository: str, digest: str) -> int | None: ...

    @abstractmethod
    async def repositories_with_blob(self, digest: str, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` repositories linking the blob, by name, each with the blob's size."""

    @abstractmethod
    async def link_blob(self, repository: str, digest: str, size: int) -> None: ...

    @abstractmethod
    async def unlink_blob(self, repository: str, digest: str) -> bool: ...

    # Upload sessions.
    @abstractmethod
    async def create_upload(self, upload_id: str, repository: str) -> None: ...

    @abstractmethod
    async def get_upload(self, upload_id: str) -> UploadSession | None: ...

    @abstractmethod
    async def touch_upload(self, upload_id: str) -> None: ...

    @abstractmethod
    async def delete_upload(self, upload_id: str) -> bool: ...

    @abstractmethod
    async def finish_upload(self, upload_id: str, repository: str, digest: str, size: int) -> None:
        """Link the uploaded blob into the repository and end the session, in one transaction."""

    @abstractmethod
    async def count_uploads(self) -> int:
        """Upload sessions started and neither finished nor cancelled (for a metric)."""

    @abstractmethod
    async def claim_stale_uploads(self, updated_before: float, limit: int) -> list[str]:
        """Sessions untouched since `updated_before`, at most `limit`, each handed to one caller
        across all instances; the caller discards them (a claim not discarded comes back later)."""

    # Manifests and tags.
    @abstractmethod
    async def put_manifest(
        self,
        repository: str,
        manifest: NewManifest,
        tags: Sequence[str],
        require_blobs: bool = True,
        *,
        may_move_tags: bool = True,
    ) -> None:
        """Store a manifest and point tags at it, atomically; with `require_blobs`, raise MissingBlobs
        first when the repository lacks a blob the manifest references; without `may_move_tags`,
        raise TagMoveRefused when a tag already points at another digest."""

    @abstractmethod
    async def manifest_by_digest(self, repository: str, digest: str) -> ManifestRef | None: ...

    @abstractmethod
    async def manifest_by_tag(self, repository: str, tag: str) -> ManifestRef | None: ...

    @abstractmethod
    async def manifest_body(self, repository: str, digest: str) -> bytes | None: ...

    @abstractmethod
    async def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest and every tag pointing at it."""

    @abstractmethod
    async def delete_tag(self, repository: str, tag: str) -> bool: ...

    @abstractmethod
    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        """Tags in order after `after`; None when the repository does not exist."""

    @abstractmethod
    async def list_repositories(self, limit: int, after: str | None) -> list[str]: ...

    @abstractmethod
    async def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]: ...

    # Browsing (the web UI): filtered by a case-insensitive substring, one page at a time.
    @abstractmethod
    async def browse_repositories(
        self, query: ListQuery, visible: Callable[[str], bool] | None = None
    ) -> Page[RepositorySummary]:
        """Only repositories whose name `visible` accepts, when it is given."""

    @abstractmethod
    async def browse_tags(self, repository: str, query: ListQuery) -> Page[TagSummary] | None:
        """None when the repository does not exist."""

    @abstractmethod
    async def tags_of_manifest(self, repository: str, digest: str, limit: int) -> list[str]: ...
