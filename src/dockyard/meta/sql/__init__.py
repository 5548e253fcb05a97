"""The one SQL implementation of the metadata store, over a driver per engine (meta/driver.py).

Each module holds the queries of one concern as a mixin that implements that concern's interface
(`sql/tags.py` implements `meta/tags.py`); a new method goes into the mixin of its concern, a new
concern into a new module mixed in below. Queries are portable SQL: `?` placeholders, ON CONFLICT,
RETURNING, times as REAL epoch seconds, no engine-only functions, and `self._dialect` for what
cannot be portable.
"""

from __future__ import annotations

from dockyard.meta.sql.access_tokens import AccessTokenQueries
from dockyard.meta.sql.audit import AuditQueries
from dockyard.meta.sql.blob_deletions import BlobDeletionQueries
from dockyard.meta.sql.blob_links import BlobLinkQueries
from dockyard.meta.sql.browse import BrowseQueries
from dockyard.meta.sql.cache import CacheQueries
from dockyard.meta.sql.catalog import CatalogQueries
from dockyard.meta.sql.garbage_reviews import GarbageReviewQueries
from dockyard.meta.sql.integrity import IntegrityQueries
from dockyard.meta.sql.lifecycle import LifecycleQueries
from dockyard.meta.sql.manifests import ManifestQueries
from dockyard.meta.sql.outbox import OutboxQueries
from dockyard.meta.sql.provider_users import ProviderUserQueries
from dockyard.meta.sql.referrers import ReferrerQueries
from dockyard.meta.sql.replication import ReplicationQueries
from dockyard.meta.sql.replication_uploads import ReplicationUploadQueries
from dockyard.meta.sql.retention import RetentionQueries
from dockyard.meta.sql.revocations import RevocationQueries
from dockyard.meta.sql.runtime_settings import RuntimeSettingsQueries
from dockyard.meta.sql.tags import TagQueries
from dockyard.meta.sql.uploads import UploadQueries
from dockyard.meta.sql.usage import UsageQueries
from dockyard.meta.store import MetadataStore


class SqlMetadataStore(
    LifecycleQueries,
    RuntimeSettingsQueries,
    CatalogQueries,
    BlobLinkQueries,
    UploadQueries,
    ManifestQueries,
    TagQueries,
    ReferrerQueries,
    OutboxQueries,
    BrowseQueries,
    GarbageReviewQueries,
    BlobDeletionQueries,
    RetentionQueries,
    IntegrityQueries,
    UsageQueries,
    ReplicationQueries,
    CacheQueries,
    ReplicationUploadQueries,
    RevocationQueries,
    AccessTokenQueries,
    AuditQueries,
    ProviderUserQueries,
    MetadataStore,
):
    pass


__all__ = ["SqlMetadataStore"]
