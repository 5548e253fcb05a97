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
class Collected:
    """Something garbage collection deleted (or, in a dry run, would delete)."""

    kind: str  # "manifest" or "blob"
    repository: str
    """The manifest's repository; for a blob, a repository whose link went with it ("" if none)."""
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    reviewed: int
    collected: list[Collected]


@dataclass(frozen=True, slots=True)
class BlobDeletion:
    """A blob whose metadata is gone and whose bytes must now leave the blob store."""

    digest: str
    size: int
    attempts: int


@dataclass(frozen=True, slots=True)
class GcQueue:
    manifest_reviews: int
    blob_reviews: int
    oldest_enqueued_at: float | None
    pending_deletions: int


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


@dataclass(frozen=True, slots=True)
class TagState:
    """A tag as retention rules see it."""

    name: str
    digest: str
    pushed_at: float
    pulled_at: float | None


class TagMoveRefused(Exception):
    """Tags already point at another manifest and the push may not move them."""

    def __init__(self, tags: Sequence[str]):
        super().__init__(", ".join(tags))
        self.tags = list(tags)


class WriteContention(Exception):
    """A write kept colliding with concurrent writes through every retry; a smaller one may pass."""


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
    async def link_held_blob(self, repository: str, digest: str, outbox: Sequence[OutboxEntry] = ()) -> bool:
        """Link a blob the registry holds into the repository (a mount); False when it no longer
        holds it (garbage collection took it since the caller looked). The outbox entries are
        stored only when it was linked."""

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
        may_move_tags: bool = True,
        *,
        outbox: Sequence[OutboxEntry] = (),
    ) -> None:
        """Store a manifest and point tags at it, atomically; with `require_blobs`, raise MissingBlobs
        first when the repository lacks a blob the manifest references; raise TagMoveRefused when
        a tag points at another digest and `may_move_tags` is false."""

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

    # Garbage collection. Reviews are enqueued by the schema's triggers; these methods take due
    # ones, re-check reachability inside the same transaction and delete what nothing holds.
    @abstractmethod
    async def review_garbage(
        self, cutoff: float, delete_untagged: bool, max_reviews: int, dry_run: bool = False
    ) -> ReviewOutcome:
        """Work through up to `max_reviews` reviews enqueued at or before `cutoff`, in one transaction.

        Manifests: deleted when untagged (and `delete_untagged`), no index in their repository lists
        them, their subject (if any) is gone and they were created at or before `cutoff`. Blobs: links
        older than `cutoff` that no manifest of their repository references are dropped; a blob with
        no link left, no manifest referencing it, no upload session claiming it and created at or
        before `cutoff` is deleted and queued for byte deletion. A dry run rolls everything back.
        """

    @abstractmethod
    async def take_blob_deletions(self, limit: int, lease_seconds: float) -> list[BlobDeletion]:
        """Due byte deletions, leased to the caller so no other worker takes them meanwhile."""

    @abstractmethod
    async def finish_blob_deletion(self, digest: str) -> None:
        """The bytes are gone from the blob store."""

    @abstractmethod
    async def retry_blob_deletion(self, digest: str, at: float) -> None: ...

    @abstractmethod
    async def claim_upload_digest(self, upload_id: str, digest: str) -> bool:
        """Mark the session as about to make `digest` visible, so GC leaves that blob alone.

        Returns True while bytes of `digest` are still being deleted: the caller must wait
        (see `blob_deletion_pending`) before putting its own bytes in place."""

    @abstractmethod
    async def blob_deletion_pending(self, digest: str) -> bool: ...

    @abstractmethod
    async def orphaned_blobs(self, digests: Sequence[str]) -> list[str]:
        """Those of `digests` without a blob row, an upload claim or a pending deletion."""

    @abstractmethod
    async def delete_orphans(self, blobs: Sequence[tuple[str, int]]) -> list[str]:
        """Queue byte deletion of those (digest, size) that are still orphaned; return their digests."""

    @abstractmethod
    async def gc_queue(self) -> GcQueue: ...

    @abstractmethod
    async def repository_blob_bytes(self, repository: str) -> int:
        """Bytes of the blobs the repository links, each counted once (0 for an unknown repository)."""

    # Retention.
    @abstractmethod
    async def record_pulls(self, pulls: Sequence[tuple[str, str, float]]) -> None:
        """Remember (repository, tag, when) pulls; a later time wins."""

    @abstractmethod
    async def tag_states(self, repository: str) -> list[TagState]: ...

    @abstractmethod
    async def delete_unchanged_tags(self, repository: str, tags: Sequence[TagState]) -> list[str]:
        """Delete those tags that still point where they did when read; the names deleted."""

    @abstractmethod
    async def stale_untagged_manifests(self, repository: str, created_before: float) -> list[tuple[str, int]]:
        """(digest, size) of manifests no tag, no index and no live subject holds, created before then."""

    @abstractmethod
    async def delete_stale_untagged_manifests(
        self, repository: str, digests: Sequence[str], created_before: float
    ) -> list[str]:
        """Delete those of `digests` that are still stale and untagged; the digests deleted."""

    # Integrity checks.
    @abstractmethod
    async def blob_page(self, after: str | None, limit: int) -> list[tuple[str, int]]:
        """(digest, size) of the blobs the registry holds, in digest order after `after`."""

    @abstractmethod
    async def dangling_references(self, limit: int) -> list[tuple[str, str, str]]:
        """(repository, manifest, blob) where a manifest references a blob the registry does not hold."""

    @abstractmethod
    async def forget_blob(self, digest: str, hold_seconds: float) -> bool:
        """Drop the blob's links and row so it reads as unknown and can be pushed again, and queue
        its bytes for deletion leased to the caller for `hold_seconds` (who moves them aside, then
        calls `finish_blob_deletion`); False if an upload in progress claims it."""
