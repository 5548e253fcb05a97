"""Composition: build the stores, the registry, the web UI and the HTTP app from the settings, and run granian."""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from dockyard.audit.pulls import PullAudit
from dockyard.auth.oidc import OidcClient
from dockyard.auth.service import Authenticator, build_authenticator
from dockyard.blobs.base import BlobStore
from dockyard.blobs.factory import BlobStoreUnavailable, check_blob_store, open_blob_store
from dockyard.config.settings import Settings, load_settings
from dockyard.core.errors import StoreFault
from dockyard.events.fills import FillNotifier
from dockyard.events.service import NotificationService
from dockyard.gc.worker import run_maintenance
from dockyard.http.accesslog import AccessLog
from dockyard.http.app import RegistryApp
from dockyard.http.auth import Guard
from dockyard.http.clients import ClientAddresses
from dockyard.http.context import Context
from dockyard.http.limits import RequestLimits
from dockyard.http.login_audit import LoginAudit
from dockyard.http.metrics import ACCESS_LOG_DROPPED
from dockyard.http.routes import Route
from dockyard.http.tracing import request_tracer
from dockyard.meta.access_tokens import AccessTokens
from dockyard.meta.audit import AuditLog
from dockyard.meta.errors import MetadataUnavailable
from dockyard.meta.factory import open_metadata_store, prepare_metadata_store
from dockyard.meta.store import MetadataStore
from dockyard.meta.uploads import SessionLimits
from dockyard.proxy import PullThroughCache
from dockyard.registry import (
    BlobService,
    BrowseService,
    ImmutableTagRule,
    ListingService,
    ManifestService,
    OperationsService,
    Registry,
    UploadService,
)
from dockyard.registry.access import Access
from dockyard.registry.metrics import render_usage
from dockyard.registry.pulls import PullLog
from dockyard.registry.quotas import QuotaRule, Quotas
from dockyard.replication.service import ReplicationService
from dockyard.telemetry.disk import check_room
from dockyard.telemetry.failures import log_failure
from dockyard.telemetry.linewriter import LineWriter, check_writable
from dockyard.telemetry.logconfig import lighten_logging, logging_config
from dockyard.ui.assets import load_assets
from dockyard.ui.routes import ui_routes
from dockyard.ui.session import Sessions, session_key

log = logging.getLogger("dockyard")

# Descriptors besides connections: database, blob files, logs, the listening socket.
_SPARE_FILES = 256
# The kernel's queue of accepted connections not yet taken by a worker (capped by net.core.somaxconn).
_MIN_BACKLOG = 1024
# The most granian reads of a connection at once, which is also the size of the request body chunks
# it hands over: 1 MiB instead of its 408 KiB takes a push in fewer, larger pieces (a fifth less
# CPU per byte received), at up to 1 MiB of buffer per connection that is sending a body.
_READ_BUFFER_BYTES = 1 << 20


def _all_workers_metrics() -> bytes:
    """Every worker's metrics, aggregated from prometheus_client's multiprocess files (blocking
    reads of one file per worker and kind: run it off the event loop)."""
    collectors = CollectorRegistry()
    multiprocess.MultiProcessCollector(collectors)  # type: ignore[no-untyped-call]
    return generate_latest(collectors)


def _metrics_page(registry: Registry, usage_seconds: float) -> Callable[[], Awaitable[bytes]]:
    async def render() -> bytes:
        page = await asyncio.to_thread(_all_workers_metrics)
        if usage_seconds > 0:
            page += render_usage(await registry.operations.usage_of_all(usage_seconds))
        return page

    return render


@dataclass(frozen=True, slots=True)
class Composed:
    """The registry with what writes beside it: notifications, replication, the pull log, the
    pull-through cache (when upstreams are configured)."""

    registry: Registry
    events: NotificationService
    replication: ReplicationService
    pulls: PullLog
    cache: PullThroughCache | None


def compose(settings: Settings, meta: MetadataStore, store: BlobStore) -> Composed:
    """The registry over the stores, as every server process and the commands that write build it.
    Replication's event rules read the outbox the registry writes its events to, and replication
    writes through the registry: it is attached once the registry exists."""
    replication = ReplicationService(settings.replication, meta, store)
    events = NotificationService(settings.notifications, meta, settings.port, replication.consumers)
    pulls = PullLog(meta)
    cache = _build_cache(settings, meta, store, events)
    registry = _build_registry(settings, meta, store, events, pulls, cache=cache)
    replication.attach(registry)
    return Composed(registry, events, replication, pulls, cache)


def build_app() -> RegistryApp:
    """The granian factory: runs in every worker process, configured by the environment."""
    settings = load_settings()
    lighten_logging()
    meta = open_metadata_store(settings)
    store = open_blob_store(settings)
    composed = compose(settings, meta, store)
    registry, events, pulls, cache = composed.registry, composed.events, composed.pulls, composed.cache
    auth = build_authenticator(settings.auth, settings.data_dir, meta)
    token_uses = auth.access_tokens if auth is not None else None

    async def close() -> None:
        if cache is not None:
            await cache.close()
        try:
            await pulls.flush()
        except Exception as error:
            log_failure(log, "recording the last pull times", error)
        if token_uses is not None:
            try:
                await token_uses.flush_uses()
            except Exception as error:
                log_failure(log, "recording the last uses of access tokens", error)
        await meta.close()
        await store.close()

    async def background() -> None:
        work = [
            run_maintenance(meta, store, settings, pulls, registry.uploads),
            events.run(registry.operations.read_only),
            composed.replication.run(registry.operations.read_only),
        ]
        if cache is not None:
            work.append(cache.run(registry.operations.read_only, settings.gc.pull_flush_seconds))
        if token_uses is not None:
            work.append(token_uses.run(registry.operations.read_only))
        await asyncio.gather(*work)

    return RegistryApp(
        _build_context(settings, meta, registry, events, auth),
        _metrics_page(registry, settings.metrics.repository_usage_seconds),
        close,
        background,
        routes=_ui_routes(settings, auth, composed.replication, meta, meta),
        on_start=meta.start,
        access_log=_access_log(settings),
        log_probes=settings.health.log_requests,
        tracer=request_tracer(settings.tracing),
        guard=_guard(settings, auth, LoginAudit(meta)),
        limits=RequestLimits(
            settings.http.max_headers,
            settings.http.max_header_bytes,
            settings.http.body_idle_timeout_seconds,
            settings.http.body_timeout_seconds,
        ),
        clients=ClientAddresses(settings.http.trusted_proxies),
    )


def _guard(settings: Settings, auth: Authenticator | None, login_audit: LoginAudit) -> Guard | None:
    if auth is None:
        return None
    token = settings.metrics.token
    return Guard(
        auth,
        secure=settings.tls_cert is not None,
        listen=settings.listen,
        metrics_token=token.get_secret_value() if token else None,
        login_audit=login_audit,
    )


def _build_cache(
    settings: Settings, meta: MetadataStore, store: BlobStore, events: NotificationService
) -> PullThroughCache | None:
    if not settings.proxy.upstreams:
        return None
    return PullThroughCache(
        settings.proxy,
        meta,
        store,
        manifest_max_bytes=settings.limits.manifest_max_bytes,
        events=FillNotifier(events.notifier),
    )


def _build_registry(
    settings: Settings,
    meta: MetadataStore,
    store: BlobStore,
    events: NotificationService,
    pulls: PullLog,
    *,
    cache: PullThroughCache | None = None,
) -> Registry:
    quotas = Quotas(meta, [QuotaRule(rule.repository, rule.max_bytes) for rule in settings.quotas])
    notifier = events.notifier
    blobs = BlobService(meta, store, settings.uploads.automatic_mount, quotas, notifier=notifier, cache=cache)
    manifests = ManifestService(
        meta,
        settings.manifests.allow_missing_blobs,
        notifier=notifier,
        immutable_tags=[ImmutableTagRule(rule.repository, rule.tags) for rule in settings.immutable_tags],
        pulls=pulls,
        cache=cache,
    )
    return Registry(
        blobs=blobs,
        uploads=UploadService(
            meta,
            store,
            quotas,
            notifier=notifier,
            cache=cache,
            limits=SessionLimits(
                settings.limits.upload_sessions_per_repository, settings.limits.upload_sessions_per_user
            ),
        ),
        manifests=manifests,
        listing=ListingService(meta, settings.limits.page_max_entries, cache),
        operations=OperationsService(
            meta, store, settings.read_only, settings.health.timeout_seconds, settings.limits.page_max_entries
        ),
        browse=BrowseService(meta, manifests, blobs, settings.limits.page_max_entries),
        cache=cache,
    )


def _build_context(
    settings: Settings, meta: MetadataStore, registry: Registry, events: NotificationService, auth: Authenticator | None
) -> Context:
    access = Access(auth.policy if auth else None)
    return Context(
        registry,
        settings.limits.manifest_max_bytes,
        pulls=events.pulls,
        url_scheme="https" if settings.tls_cert else "http",
        pull_permission=lambda req: access.pull_predicate(req.principal),
        access=access,
        auth=auth,
        secure=settings.tls_cert is not None,
        login_audit=LoginAudit(meta),
        pull_audit=PullAudit(meta, settings.audit.pulls) if settings.audit.pulls else None,
    )


def _ui_routes(
    settings: Settings,
    auth: Authenticator | None,
    replication: ReplicationService,
    audit: AuditLog,
    access_tokens: AccessTokens,
) -> tuple[Route, ...]:
    sessions = None
    oidc = None
    if auth:
        key_file = settings.ui.session_key_file or settings.data_dir / "auth" / "ui-session.key"
        sessions = Sessions(session_key(key_file), settings.ui.session_seconds)
        oidc = OidcClient(settings.auth.oidc) if settings.auth.oidc is not None else None
    tokens = access_tokens if auth is not None and auth.access_tokens is not None else None
    assets = load_assets() if settings.ui.enabled else None
    return ui_routes(sessions, assets, replication, audit, oidc, access_tokens=tokens)


def _access_log(settings: Settings) -> AccessLog | None:
    if not settings.access_log:
        return None
    writer = LineWriter(settings.access_log_file, ACCESS_LOG_DROPPED.inc)
    return AccessLog(writer, settings.log_format)


def serve(settings: Settings, data_dir: Path) -> None:
    """Run the server in the foreground until SIGINT or SIGTERM."""
    scheme = "https" if settings.tls_cert else "http"
    try:
        metadata = prepare_metadata_store(settings)
    except MetadataUnavailable as error:
        sys.exit(f"dockyard: {error}")
    print(f"dockyard metadata: {metadata}", file=sys.stderr, flush=True)
    try:
        blobs = check_blob_store(settings)
    except BlobStoreUnavailable as error:
        sys.exit(f"dockyard: cannot use the blob store: {error}")
    print(f"dockyard blobs: {blobs}", file=sys.stderr, flush=True)
    _warn_unless_writable(settings, data_dir)
    if settings.access_log and settings.access_log_file:
        try:
            check_writable(settings.access_log_file)
        except OSError as error:
            sys.exit(f"dockyard: cannot write the access log: {error}")
    print(
        f"dockyard listening on {scheme}://{settings.listen} with {settings.workers} worker(s); data in {data_dir}",
        file=sys.stderr,
        flush=True,
    )
    try:
        _run_granian(settings)
    except RuntimeError as error:  # granian reports bind failures this way
        # The first line is the reason; a native backtrace may follow.
        sys.exit(f"dockyard: cannot serve on {settings.listen}: {str(error).splitlines()[0]}")


def _warn_unless_writable(settings: Settings, data_dir: Path) -> None:
    """Say so at start when the data directory holds stores but takes no writes: pulls are served,
    pushes fail until the disk is writable again, and that needs no restart."""
    if settings.storage.s3 is not None and settings.database.url is not None:
        return  # nothing of the stores lives there
    try:
        check_room(data_dir)
    except StoreFault as fault:
        print(
            f"dockyard: warning: {fault}: pulls are served, but pushes and deletes fail until it takes writes",
            file=sys.stderr,
            flush=True,
        )


def _raise_open_file_limit(settings: Settings) -> None:
    """Every connection is a file descriptor: let the process open as many as the hard limit allows,
    and say so when even that is short of the connections the settings allow."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = settings.http.max_connections * settings.workers + _SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < wanted:
        print(
            f"dockyard: warning: the open-file limit ({soft}) is below the {wanted} that http.max_connections "
            f"({settings.http.max_connections} per worker) may need; raise it (ulimit -n) or lower the setting",
            file=sys.stderr,
        )


def _run_granian(settings: Settings) -> None:
    _raise_open_file_limit(settings)
    Server(
        "dockyard.server:build_app",
        factory=True,
        interface=Interfaces.RSGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        runtime_threads=settings.io_threads_per_worker,
        # HTTP/1.1 only: with HTTP/2 possible, granian first waits for a connection's first bytes to
        # tell the two apart, with no timeout, so connections that never send a byte would hold
        # their slot for ever; in HTTP/1.1 the header timeout runs from the accept.
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.http.header_timeout_seconds * 1000),
            keep_alive=True,
            max_buffer_size=_READ_BUFFER_BYTES,
        ),
        backlog=max(_MIN_BACKLOG, settings.http.max_connections * settings.workers),
        backpressure=settings.http.max_connections,
        log_level=LogLevels(settings.log_level),
        log_dictconfig=logging_config(settings.log_level, settings.log_format),
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
        workers_kill_timeout=30,
    ).serve()
