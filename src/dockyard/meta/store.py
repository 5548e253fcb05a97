"""The whole metadata store: every concern at once.

Only what builds or opens a store names this (the composition root, the factory, commands that
open one); every other caller takes the interfaces of the concerns it uses.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.meta.access_tokens import AccessTokens
from dockyard.meta.audit import AuditLog
from dockyard.meta.blob_deletions import BlobDeletions
from dockyard.meta.blob_links import BlobLinks
from dockyard.meta.browse import Browsing
from dockyard.meta.cache import CacheState
from dockyard.meta.catalog import Catalog
from dockyard.meta.garbage_reviews import GarbageReviews
from dockyard.meta.integrity import Integrity
from dockyard.meta.lifecycle import Lifecycle
from dockyard.meta.manifests import Manifests
from dockyard.meta.outbox import Outbox
from dockyard.meta.provider_users import ProviderUsers
from dockyard.meta.referrers import Referrers
from dockyard.meta.replication import ReplicationState
from dockyard.meta.replication_uploads import ReplicationUploads
from dockyard.meta.retention import RetentionState
from dockyard.meta.revocations import Revocations
from dockyard.meta.runtime_settings import RuntimeSettings
from dockyard.meta.tags import Tags
from dockyard.meta.uploads import Uploads
from dockyard.meta.usage import Usage


class MetadataStore(
    Lifecycle,
    RuntimeSettings,
    Catalog,
    BlobLinks,
    Uploads,
    Manifests,
    Tags,
    Referrers,
    Outbox,
    Browsing,
    GarbageReviews,
    BlobDeletions,
    RetentionState,
    Integrity,
    Usage,
    ReplicationState,
    CacheState,
    ReplicationUploads,
    Revocations,
    AccessTokens,
    AuditLog,
    ProviderUsers,
    Protocol,
):
    """Everything the registry knows besides blob bytes. Safe to share between processes."""
