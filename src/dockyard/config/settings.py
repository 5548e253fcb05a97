"""Typed configuration: defaults, then a YAML file, then DOCKYARD_* environment variables.

Nested keys are reached from the environment with a double underscore, e.g.
DOCKYARD_LIMITS__MANIFEST_MAX_BYTES=8388608.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_serializer, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from dockyard.config.audit import Audit
from dockyard.config.auth import Auth
from dockyard.config.http import Http
from dockyard.config.proxy import Proxy
from dockyard.config.replication import Replication
from dockyard.config.section import Section
from dockyard.core.urls import redact_password

CONFIG_FILE_ENV = "DOCKYARD_CONFIG"


class Limits(Section):
    manifest_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Larger manifests get 413 before their body is read (Content-Length) or once it passes the limit."""
    page_max_entries: int = Field(default=10_000, ge=1)
    """The largest `n` a tags or catalog page may ask for; larger asks are capped."""
    upload_sessions_per_repository: int = Field(default=1000, ge=0)
    """Upload sessions open at once in one repository, all instances together; more get 429. 0: no limit."""
    upload_sessions_per_user: int = Field(default=1000, ge=0)
    """Upload sessions one authenticated user has open at once, over all repositories. 0: no limit."""


class Uploads(Section):
    stale_after_seconds: int = Field(default=24 * 3600, ge=1)
    """Upload sessions untouched for this long are purged with their bytes."""
    automatic_mount: bool = True
    """A mount without `from` (or from a repository lacking the blob) links the blob from any
    repository the caller may pull that holds it; false opens an upload session instead."""


class Manifests(Section):
    allow_missing_blobs: bool = False
    """Accept image manifests whose config or layers this repository does not hold (sparse mirrors)."""


EventAction = Literal["push", "pull", "delete", "mount", "fill"]


class NotificationEndpoint(Section):
    """A receiver of Distribution's event envelope; see docs/notifications.md."""

    name: str | None = None
    """The endpoint's key for its queue and metrics; by default the URL's host and path."""
    url: str = Field(pattern=r"^https?://")
    """Credentials belong in `headers`; a password in the URL is masked in printed configuration."""
    headers: dict[str, SecretStr] = {}
    """Sent with every request; values may be secrets (Authorization) and are never logged."""
    events: list[EventAction] = ["push", "delete", "mount"]
    """Pulls are opt-in: they are frequent, and recorded with a weaker guarantee. So are fills: content
    the pull-through cache stored from an upstream."""
    repositories: list[str] = ["*"]
    """Shell-style globs (fnmatch: `*` crosses slashes) of the repositories whose events are sent."""
    timeout: float = Field(default=5.0, gt=0)
    """Seconds one delivery may take, connection included."""
    max_retries: int = Field(default=10, ge=0)
    """Failed deliveries of an event before it is dropped (counted as failed)."""
    max_pending: int = Field(default=10_000, ge=1)
    """Events kept for this endpoint; beyond that the oldest are dropped (counted as dropped)."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    backoff_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)

    @field_serializer("url", when_used="json")
    def _hide_password(self, value: str) -> str:
        return redact_password(value)

    @property
    def key(self) -> str:
        if self.name:
            return self.name
        # Never the query or user info of the URL: either may carry a credential.
        parts = urlsplit(self.url)
        return f"{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class Notifications(Section):
    endpoints: list[NotificationEndpoint] = []
    poll_seconds: float = Field(default=1.0, gt=0)
    """How often idle delivery workers look for events written by other processes."""
    pull_buffer: int = Field(default=10_000, ge=1)
    """Pull events a process holds in memory before they reach the outbox; beyond that they are dropped."""

    @field_validator("endpoints")
    @classmethod
    def _unique_keys(cls, endpoints: list[NotificationEndpoint]) -> list[NotificationEndpoint]:
        keys = [endpoint.key for endpoint in endpoints]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"endpoints need distinct names: {', '.join(duplicates)} (set `name`)")
        return endpoints


class Ui(Section):
    enabled: bool = True
    """Serve the web UI at /ui/ (and redirect / there); its JSON API under /v2/_dockyard/ stays."""
    session_seconds: int = Field(default=8 * 3600, ge=60)
    """How long a UI login lasts."""
    session_key_file: Path | None = None
    """The key that signs UI sessions, shared by every instance; by default `<data_dir>/auth/ui-session.key`,
    generated when absent. Instances that do not share a data directory must be given the same file."""


class Metrics(Section):
    repository_usage_seconds: float = Field(default=60, ge=0)
    """/metrics reports each repository's usage (blob bytes, shared bytes, tags, manifests), computed
    at most this often; 0 leaves it out (one series per repository on a very large registry)."""
    token: SecretStr | None = None
    """With auth on, /metrics answers `Authorization: Bearer <token>` (or an administrator's Basic
    credentials) only; with auth off it is open."""


class Health(Section):
    timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    """How long /readyz waits for each store to answer."""
    log_requests: bool = False
    """Whether /healthz and /readyz appear in the access log (probes every few seconds would flood it)."""


class Database(Section):
    url: str | None = None
    """postgresql://USER:PASSWORD@HOST:PORT/DATABASE for metadata in PostgreSQL (several instances
    may share it); unset: an embedded SQLite database in data_dir."""
    pool_size: int = Field(default=10, ge=1, le=1000)
    """Connections to PostgreSQL per worker process (one more listens for changes)."""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in ("postgresql", "postgres"):
            raise ValueError("database.url must be a postgresql:// URL")
        return "postgresql://" + rest

    @field_serializer("url", when_used="json")
    def _hide_password(self, value: str | None) -> str | None:
        return None if value is None else redact_password(value)


class Tracing(Section):
    endpoint: str | None = None
    """OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces; unset: no tracing. Needs the
    `tracing` extra (pip install 'dockyard[tracing]')."""
    service_name: str = "dockyard"
    sample_ratio: float = Field(default=1.0, ge=0, le=1)
    """Share of requests traced when the client sent no sampling decision of its own."""


class S3Storage(Section):
    """Blobs in an S3 bucket instead of data_dir/blobs (uploads in progress live there too)."""

    endpoint: str | None = None
    """e.g. http://127.0.0.1:7480 for Ceph RGW (path-style addressing); unset: AWS for the region."""
    bucket: str = Field(min_length=3, max_length=63)
    region: str = "us-east-1"
    access_key: str | None = None
    """Unset (with secret_key): the standard AWS environment and credential chain."""
    secret_key: SecretStr | None = None
    prefix: str = ""
    """Key prefix inside the bucket, so several registries can share one."""
    redirect: bool = False
    """Answer blob GETs with 307 to a presigned URL instead of relaying the bytes."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    """The longest S3 may go without sending the next bytes of an answer."""
    attempt_timeout_seconds: float = Field(default=60.0, gt=0)
    """The longest one attempt of a request may take to be answered (a part's upload included)."""
    max_attempts: int = Field(default=4, ge=1, le=20)
    """Attempts per request, the first included: SlowDown, 5xx, broken connections, timeouts."""


class Storage(Section):
    s3: S3Storage | None = None


class Gc(Section):
    """Online garbage collection (docs/gc.md)."""

    enabled: bool = True
    """Run review workers in every server process."""
    review_delay_seconds: float = Field(default=86400, ge=0)
    """How long after the event that may have orphaned something its review waits: the grace
    period within which a push may still reference it."""
    untagged_manifests: bool = True
    """Collect manifests no tag and no index references; false keeps them as Distribution does."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Reviews per transaction: larger is faster, smaller keeps other writers' waits short."""
    idle_seconds: float = Field(default=5.0, gt=0)
    """How long a worker sleeps when nothing is due."""
    deletion_lease_seconds: float = Field(default=30.0, gt=0)
    """A byte deletion taken by a worker that died is retaken after this long; it must exceed
    the time deleting one blob from the blob store can take."""
    orphan_sweep_seconds: float = Field(default=6 * 3600, gt=0)
    """How often the blob store is listed for bytes without metadata (left by crashes)."""
    scrub_bytes_per_second: int = Field(default=0, ge=0)
    """Re-hash every stored blob in the background at this rate, over and over; 0 turns it off."""
    retention_interval_seconds: float = Field(default=3600, gt=0)
    """How often the retention rules are applied."""
    pull_flush_seconds: float = Field(default=30, gt=0)
    """How often the last-pull times each process noted are written, in one batch."""


class ImmutableTags(Section):
    """Tags matching `tags` in repositories matching `repository` (both globs) never change: pushing
    one with a different digest is refused, and so is deleting it or the manifest it points at; only
    an explicit `overwrite` grant overrides it."""

    repository: str
    tags: str = "*"


class Quota(Section):
    """Repositories matching `repository` (a glob) may link at most `max_bytes` of blobs."""

    repository: str
    max_bytes: int = Field(ge=0)


class RetentionRule(Section):
    """What to keep in repositories matching `repository` (a glob); the first matching rule applies.

    Tags are deleted only when the rule sets at least one `keep_*` criterion, and then exactly
    those tags that no criterion keeps. Manifests deleted this way are collected by GC later."""

    repository: str
    keep_last: int | None = Field(default=None, ge=0)
    """Keep the N most recently pushed tags."""
    keep_tags: str | None = None
    """Keep tags matching this regular expression (whole name)."""
    keep_pulled_within_days: float | None = Field(default=None, gt=0)
    """Keep tags pulled within this many days."""
    untagged_older_than_days: float | None = Field(default=None, ge=0)
    """Delete manifests no tag, index or live subject holds, created more than this many days ago."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", env_nested_delimiter="__", extra="forbid")

    listen: str = "127.0.0.1:5000"
    data_dir: Path = Path("dockyard-data")
    workers: int = Field(default=1, ge=1, le=64)
    io_threads: int | None = Field(default=None, ge=1, le=64)
    """Threads per worker that move bytes on the network (granian's runtime threads); by default
    the cores divided among the workers. With one thread, large downloads delay small requests;
    with more threads than cores, context switches cost every request."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True
    access_log_file: Path | None = None
    """Append the access log here instead of standard error; reopened on SIGHUP (logrotate)."""
    read_only: bool = False
    """Refuse every change to content (logins still work); `dockyard admin read-only on|off` switches it
    at runtime too."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    http: Http = Http()
    limits: Limits = Limits()
    uploads: Uploads = Uploads()
    notifications: Notifications = Notifications()
    manifests: Manifests = Manifests()
    database: Database = Database()
    health: Health = Health()
    metrics: Metrics = Metrics()
    tracing: Tracing = Tracing()
    storage: Storage = Storage()
    auth: Auth = Auth()
    gc: Gc = Gc()
    immutable_tags: list[ImmutableTags] = []
    retention: list[RetentionRule] = []
    quotas: list[Quota] = []
    """The first rule matching a repository applies."""
    ui: Ui = Ui()
    replication: Replication = Replication()
    proxy: Proxy = Proxy()
    audit: Audit = Audit()

    @field_validator("replication")
    @classmethod
    def _own_outbox_queues(cls, value: Replication, info: ValidationInfo) -> Replication:
        notifications = info.data.get("notifications")
        if isinstance(notifications, Notifications):
            value.check_outbox_keys({endpoint.key for endpoint in notifications.endpoints})
        return value

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("listen must be HOST:PORT, e.g. 0.0.0.0:5000")
        return value

    @property
    def io_threads_per_worker(self) -> int:
        return self.io_threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no secret files
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(CONFIG_FILE_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings() -> Settings:
    """Read the configuration the way every process of one server does: file + environment."""
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    return Settings()
