"""Metrics of the registry: what it did (uploads, mounts, manifest pushes, purges) and what it
holds (open upload sessions, and per-repository usage rendered for each scrape)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dockyard.meta.usage import RepositoryUsage

BLOB_UPLOADS = Counter("dockyard_blob_uploads", "Blob uploads completed with bytes received")
BLOB_UPLOAD_BYTES = Counter("dockyard_blob_upload_bytes", "Bytes of completed blob uploads")
BLOB_MOUNTS = Counter("dockyard_blob_mounts", "Blobs mounted from another repository")
MANIFEST_PUSHES = Counter("dockyard_manifest_pushes", "Manifests stored", ["media_type"])
UPLOADS_PURGED = Counter("dockyard_uploads_purged", "Abandoned upload sessions purged")
# Sampled every few seconds by the HTTP layer's monitor (http/monitor.py).
UPLOAD_SESSIONS = Gauge(
    "dockyard_upload_sessions_open", "Upload sessions started and not yet finished", multiprocess_mode="max"
)

_USAGE_FAMILIES = {
    "blob_bytes": ("dockyard_repository_blob_bytes", "Bytes of the blobs a repository links, each counted once"),
    "shared_bytes": ("dockyard_repository_shared_bytes", "Bytes of a repository's blobs other repositories link too"),
    "tags": ("dockyard_repository_tags", "Tags of a repository"),
    "manifests": ("dockyard_repository_manifests", "Manifests of a repository"),
}


class _UsageCollector(Collector):
    def __init__(self, usages: Sequence[RepositoryUsage]):
        self._usages = usages

    def collect(self) -> Iterable[Metric]:
        for field, (name, documentation) in _USAGE_FAMILIES.items():
            family = GaugeMetricFamily(name, documentation, labels=["repository"])
            for usage in self._usages:
                family.add_metric([usage.repository], getattr(usage, field))
            yield family


def render_usage(usages: Sequence[RepositoryUsage]) -> bytes:
    """Per-repository usage in the exposition format, built for each scrape rather than kept as
    series, so that a deleted repository leaves /metrics with it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_UsageCollector(usages))
    return generate_latest(registry)
