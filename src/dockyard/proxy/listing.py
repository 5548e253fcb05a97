"""Tag lists and referrers of cache repositories, as upstream has them now; None when upstream cannot
be asked, and the registry lists what the cache holds instead."""

from __future__ import annotations

import logging

from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import Descriptor
from dockyard.proxy.upstreams import CacheRoute
from dockyard.remote import RemoteError, RemoteNotFound

log = logging.getLogger("dockyard.proxy")


async def upstream_tags(route: CacheRoute) -> list[str] | None:
    """Every tag of the repository upstream, in order."""
    try:
        return await route.upstream.client.list_tags(route.repository)
    except RemoteNotFound:
        raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": route.local}) from None
    except RemoteError as error:
        log.info("listing the tags of %s upstream failed, listing the cached ones: %s", route.local, error)
        return None


async def upstream_referrers(route: CacheRoute, subject: Digest, artifact_type: str | None) -> list[Descriptor] | None:
    """The manifests upstream whose subject is `subject`."""
    try:
        return await route.upstream.client.referrers(route.repository, subject, artifact_type)
    except RemoteNotFound:
        return []
    except RemoteError as error:
        log.info("listing referrers in %s upstream failed, listing the cached ones: %s", route.local, error)
        return None
