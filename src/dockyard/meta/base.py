"""The one interface every metadata backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


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
class OutboxEntry:
    """One event for one notification endpoint, stored with the write it describes."""

    endpoint: str
    repository: str
    payload: str
    """The event as JSON, ready to go into an envelope."""


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    """The oldest events of an endpoint, taken by one delivery worker under its lease."""

    ids: tuple[int, ...]
    payloads: tuple[str, ...]
    failures: int
    """Consecutive failed deliveries to the endpoint so far, for the backoff."""


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
    async def link_blob(self, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()) -> None: ...

    @abstractmethod
    async def unlink_blob(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        """The outbox entries are stored only when a link was removed."""

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
    async def finish_upload(
        self, upload_id: str, repository: str, digest: str, size: int, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
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
        outbox: Sequence[OutboxEntry] = (),
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
    async def delete_manifest(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        """Delete a manifest and every tag pointing at it; the outbox entries only if it existed."""

    @abstractmethod
    async def delete_tag(self, repository: str, tag: str, outbox: Sequence[OutboxEntry] = ()) -> bool: ...

    @abstractmethod
    async def list_tags(self, repository: str, limit: int, after: str | None) -> list[str] | None:
        """Tags in order after `after`; None when the repository does not exist."""

    @abstractmethod
    async def list_repositories(self, limit: int, after: str | None) -> list[str]: ...

    @abstractmethod
    async def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]: ...

    # The notification outbox. Every write method above stores its `outbox` entries in its own
    # transaction; delivery workers take them per endpoint under a lease, oldest first.
    @abstractmethod
    async def append_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        """Entries that describe no write of their own (pulls)."""

    @abstractmethod
    async def take_outbox(
        self, endpoint: str, owner: str, lease_seconds: float, limit: int, keep: int
    ) -> tuple[OutboxBatch | None, int]:
        """Lease the endpoint to `owner` if no other owner holds it, drop its oldest events beyond
        `keep`, and return its oldest `limit` events when its backoff has passed (None when not
        leased, not due or empty), with how many events were dropped."""

    @abstractmethod
    async def ack_outbox(self, endpoint: str, ids: Sequence[int]) -> None:
        """The events were delivered: remove them and clear the endpoint's backoff."""

    @abstractmethod
    async def fail_outbox(self, endpoint: str, ids: Sequence[int], max_attempts: int, retry_at: float) -> int:
        """A delivery failed: count an attempt on each event, remove those that had `max_attempts`
        and hold the endpoint back until `retry_at`. Returns how many were removed."""

    @abstractmethod
    async def release_outbox(self, endpoint: str, owner: str) -> None:
        """Give up the lease, so that another worker may take the endpoint at once."""

    @abstractmethod
    async def outbox_pending(self, endpoint: str) -> int: ...
