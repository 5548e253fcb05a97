"""The pull-through cache: the upstream registries dockyard pulls through, how they are reached and how
long what they serve is kept (see docs/proxy.md)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from dockyard.config.remotes import RemoteRegistry
from dockyard.config.section import Section

_LABEL = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_NAMESPACE = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
# Docker Hub keeps its official images under library/ but names them without it.
_DOCKER_HUB_HOSTS = frozenset({"registry-1.docker.io", "index.docker.io"})


class Upstream(RemoteRegistry):
    name: str = Field(pattern=rf"^{_LABEL}$", max_length=64)
    """A label for logs, metrics and the UI; cached content lives under it when `prefix` is ""."""
    prefix: str | None = None
    """`/v2/<prefix>/<repo>/...` pulls `<repo>` from this upstream, and the cache repositories are named
    `<prefix>/<repo>`; unset: the name. "": no prefix of its own (reached by `namespaces` or `default`),
    the cache repositories are named by the name."""
    namespaces: list[str] = []
    """Registry host names (`docker.io`) whose `?ns=` requests (containerd's mirrors) are served from here."""
    default: bool = False
    """Reads of repositories that do not exist locally, with neither prefix nor `ns`, go here (at most one)."""
    library_prefix: bool | None = None
    """Single-name repositories gain `library/` (Docker Hub's official images); unset: on for Docker Hub."""
    tag_ttl_seconds: float = Field(default=300, ge=0)
    """A cached tag is served without asking upstream this long; after that one HEAD revalidates it."""
    max_stale_seconds: float = Field(default=604800, ge=0)
    """While upstream fails (429, 5xx, timeout, refused), a cached tag last confirmed at most this long
    ago is served with a Warning; older ones fail like uncached content."""
    keep_days: float = Field(default=30, gt=0)
    """Cached content not pulled for this long is released to garbage collection."""
    max_bytes: int | None = Field(default=None, ge=0)
    """Beyond this many cached bytes, the least recently pulled content is released first; unset: no limit."""

    @property
    def local_prefix(self) -> str:
        """The first part of the name of every cache repository of this upstream."""
        return self.prefix or self.name

    @property
    def path_route(self) -> bool:
        return self.prefix != ""

    @property
    def adds_library(self) -> bool:
        if self.library_prefix is not None:
            return self.library_prefix
        return (urlsplit(self.url).hostname or "") in _DOCKER_HUB_HOSTS

    @model_validator(mode="after")
    def _valid_routes(self) -> Upstream:
        if self.prefix and not all(_COMPONENT.fullmatch(part) for part in self.prefix.split("/")):
            raise ValueError(f"prefix {self.prefix!r} must be repository name components (a-z, 0-9, . _ -)")
        for namespace in self.namespaces:
            if not _NAMESPACE.fullmatch(namespace):
                raise ValueError(f"namespace {namespace!r} must be a registry host name, e.g. docker.io")
        if self.prefix == "" and not self.namespaces and not self.default:
            raise ValueError(f'upstream {self.name!r} has prefix "" and neither namespaces nor default: unreachable')
        return self


class Proxy(Section):
    upstreams: list[Upstream] = []
    lease_seconds: float = Field(default=30, gt=0)
    """A fill (an upstream download into the cache) is leased to one process for this long and renewed
    as it goes; if its process dies, another takes it over once the lease runs out."""
    eviction_interval_seconds: float = Field(default=600, gt=0)
    """How often each process releases cached content past `keep_days` or `max_bytes`."""

    @model_validator(mode="after")
    def _distinct(self) -> Proxy:
        _refuse_duplicates("upstream names", [upstream.name for upstream in self.upstreams])
        _refuse_duplicates("namespaces", [ns.lower() for upstream in self.upstreams for ns in upstream.namespaces])
        defaults = [upstream.name for upstream in self.upstreams if upstream.default]
        if len(defaults) > 1:
            raise ValueError(f"at most one upstream may be the default: {', '.join(defaults)}")
        prefixes = [upstream.local_prefix for upstream in self.upstreams]
        _refuse_duplicates("prefixes (a prefix, or the name of an upstream with none)", prefixes)
        for outer in prefixes:
            inner = next((prefix for prefix in prefixes if prefix.startswith(outer + "/")), None)
            if inner is not None:
                raise ValueError(f"prefix {inner!r} lies inside prefix {outer!r}")
        return self


def _refuse_duplicates(what: str, values: list[str]) -> None:
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise ValueError(f"{what} must be distinct: {', '.join(duplicates)}")
