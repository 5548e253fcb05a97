"""Registry operations: what pushing, pulling, mounting, tagging and deleting mean.

This layer validates and sequences work on the metadata and blob stores; it knows nothing of HTTP.
"""

from dataclasses import dataclass

from dockyard.proxy import PullThroughCache
from dockyard.registry.blobs import BlobService
from dockyard.registry.browse import BrowseService
from dockyard.registry.listing import ListingService
from dockyard.registry.manifests import ImmutableTagRule, ManifestService, TagMoves
from dockyard.registry.operations import OperationsService
from dockyard.registry.uploads import UploadService


@dataclass(frozen=True, slots=True)
class Registry:
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    listing: ListingService
    operations: OperationsService
    browse: BrowseService | None = None
    """The web UI's listings and details; a registry composed without them answers no UI calls."""
    cache: PullThroughCache | None = None
    """The pull-through cache, when upstreams are configured."""


__all__ = [
    "BlobService",
    "BrowseService",
    "ImmutableTagRule",
    "ListingService",
    "ManifestService",
    "OperationsService",
    "Registry",
    "TagMoves",
    "UploadService",
]
