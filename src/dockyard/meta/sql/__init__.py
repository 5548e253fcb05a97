"""The one SQL implementation of MetadataStore, over a driver per engine (meta/driver.py).

Queries are grouped by concept, one module each; a new method goes into the module of its concept
(or a new one, mixed in below), in portable SQL: `?` placeholders, ON CONFLICT, RETURNING, times as
REAL epoch seconds, no engine-only functions, and `self._dialect` for what cannot be portable.
"""

from __future__ import annotations

from dockyard.meta.base import MetadataStore
from dockyard.meta.sql.blobs import BlobQueries
from dockyard.meta.sql.browse import BrowseQueries
from dockyard.meta.sql.gc import GcQueries
from dockyard.meta.sql.integrity import IntegrityQueries
from dockyard.meta.sql.listing import ListingQueries
from dockyard.meta.sql.manifests import ManifestQueries
from dockyard.meta.sql.operations import OperationsQueries
from dockyard.meta.sql.outbox import OutboxQueries
from dockyard.meta.sql.retention import RetentionQueries


class SqlMetadataStore(
    BlobQueries,
    ManifestQueries,
    ListingQueries,
    OperationsQueries,
    GcQueries,
    RetentionQueries,
    IntegrityQueries,
    OutboxQueries,
    BrowseQueries,
    MetadataStore,
):
    pass


__all__ = ["SqlMetadataStore"]
