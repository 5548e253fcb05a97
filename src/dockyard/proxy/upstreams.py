"""The upstream registries the cache pulls through, and how a request's repository name maps onto one.

A cache repository is named `<local prefix>/<repository upstream>` (`hub/library/alpine`), however
the request reached it: by the prefix (`hub/alpine`), by containerd's `?ns=docker.io`, or as the
default upstream's (`alpine`). Every route ends at that one name, so the same content pulled either
way is stored and counted once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.config.proxy import Upstream as UpstreamSettings
from dockyard.core.names import validate_name
from dockyard.remote import RemoteClient


class Upstream:
    """One configured upstream with its client (shared by every request of this process)."""

    def __init__(self, settings: UpstreamSettings, client: RemoteClient):
        self.settings = settings
        self.client = client
        self.name = settings.name
        self.prefix = settings.local_prefix
        self.url = client.settings.base_url

    def repository_upstream(self, name: str) -> str:
        """The upstream's name of a repository as a client names it: Docker Hub's single names gain
        `library/`."""
        if self.settings.adds_library and "/" not in name:
            return "library/" + name
        return name

    def describe(self) -> str:
        return f"upstream {self.name} ({self.url})"


@dataclass(frozen=True, slots=True)
class CacheRoute:
    upstream: Upstream
    repository: str
    """The repository's name upstream."""
    local: str
    """The cache repository here: `<prefix>/<repository>`."""


class Routes:
    """Which requests the cache answers, and from which upstream."""

    def __init__(self, upstreams: Sequence[Upstream]):
        self.upstreams = tuple(upstreams)
        self._by_prefix = {upstream.prefix + "/": upstream for upstream in upstreams}
        self._by_namespace = {ns.lower(): u for u in upstreams for ns in u.settings.namespaces}
        self.default = next((upstream for upstream in upstreams if upstream.settings.default), None)
        # Pulls repeat the same few names.
        self.of_local = functools.lru_cache(maxsize=8192)(self._of_local)

    def _of_local(self, name: str) -> CacheRoute | None:
        """The route of a name under an upstream's prefix (a cache repository, or `hub/alpine` that
        names one), None for any other name."""
        for prefix, upstream in self._by_prefix.items():
            if name.startswith(prefix):
                return self._route(upstream, name[len(prefix) :])
        return None

    def by_namespace(self, name: str, namespace: str) -> CacheRoute | None:
        """The route `?ns=` picks: only a namespace an upstream lists, never a host to dial."""
        upstream = self._by_namespace.get(namespace.lower())
        return None if upstream is None else self._route(upstream, name)

    def by_default(self, name: str) -> CacheRoute | None:
        return None if self.default is None else self._route(self.default, name)

    @staticmethod
    def _route(upstream: Upstream, name: str) -> CacheRoute:
        repository = upstream.repository_upstream(name)
        return CacheRoute(upstream, repository, validate_name(f"{upstream.prefix}/{repository}"))

    def upstream_of(self, local: str) -> Upstream | None:
        route = self.of_local(local)
        return None if route is None else route.upstream
