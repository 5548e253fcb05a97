"""Storage quotas per repository glob: the deduplicated bytes of the blobs a repository links.

A push that would go over is refused with DENIED before its bytes are stored when its size is
known up front (a monolithic upload or a chunk with Content-Length), and at completion otherwise.
Concurrent pushes are checked independently, so together they may overshoot by what they carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.meta.blob_links import BlobLinks


@dataclass(frozen=True, slots=True)
class QuotaRule:
    repository: str
    max_bytes: int


class Quotas:
    def __init__(self, meta: BlobLinks, rules: Sequence[QuotaRule] = ()):
        self._meta = meta
        self._rules = tuple(rules)

    def limit(self, repository: str) -> int | None:
        """The first matching rule's limit, or None when the repository has no quota."""
        return next((rule.max_bytes for rule in self._rules if fnmatchcase(repository, rule.repository)), None)

    async def admit(self, repository: str, new_bytes: int, digest: str | None = None) -> None:
        """Raise DENIED if `new_bytes` more would take the repository over its quota; a blob it
        already links adds nothing."""
        limit = self.limit(repository)
        if limit is None:
            return
        if digest is not None and await self._meta.repository_blob_size(repository, digest) is not None:
            return
        used = await self._meta.repository_blob_bytes(repository)
        if used + new_bytes > limit:
            raise RegistryError(
                ErrorCode.DENIED,
                f"quota exceeded: {repository} holds {used} of its {limit} bytes, this push needs {new_bytes} more",
                {"used": used, "limit": limit, "needed": new_bytes},
            )
