"""Media types of manifests and the descriptors they hold."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFESTS = IMAGE_MANIFESTS | INDEXES

MAX_LENGTH = 255
"""RFC 6838 allows 127 characters on each side of the slash; parameters come on top in the wild."""


def is_media_type(text: str) -> bool:
    """Whether `text` can be a media type (RFC 6838 names are printable ASCII) that the registry
    stores and serves back: no control character, no NUL, nothing a database would refuse."""
    return 0 < len(text) <= MAX_LENGTH and text.isascii() and text.isprintable()
