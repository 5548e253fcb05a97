"""Route tables: path patterns, a handler for each method, and the router that finds a path's route.

The /v2/ API's table is here; other tables (the web UI's) come from the composition root and are
tried first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import ErrorCode
from dockyard.core.names import validate_name
from dockyard.http.errors import HTTPError
from dockyard.http.handlers import base, blobs, listing, manifests, token, uploads

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: dict[str, Handler]
    public: bool
    """Answered without the auth guard: the route authenticates its callers itself, or needs none."""
    changes_content: bool
    """Its methods other than GET and HEAD change what the registry holds, and read-only mode refuses
    them; logging in and out changes no content."""


def route(name: str, pattern: str, *, public: bool = False, changes_content: bool = True, **methods: Handler) -> Route:
    return Route(name, re.compile(pattern), methods, public, changes_content)


# Repository names contain slashes, so each pattern anchors on the fixed words after the name;
# uploads are tried before blobs so that `.../blobs/uploads/` is never read as a digest.
API_ROUTES = (
    route("base", r"/v2/?", GET=base.version_check, HEAD=base.version_check),
    route("catalog", r"/v2/_catalog", GET=listing.list_repositories),
    route("usage", r"/v2/_dockyard/usage", GET=listing.list_usage),
    route("tags", r"/v2/(?P<name>.+)/tags/list", GET=listing.list_tags),
    route(
        "manifest",
        r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)",
        GET=manifests.get_manifest,
        HEAD=manifests.head_manifest,
        PUT=manifests.put_manifest,
        DELETE=manifests.delete_manifest,
    ),
    route("upload_start", r"/v2/(?P<name>.+)/blobs/uploads/?", POST=uploads.start_upload),
    route(
        "upload",
        r"/v2/(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)",
        GET=uploads.upload_status,
        PATCH=uploads.append_chunk,
        PUT=uploads.complete_upload,
        DELETE=uploads.cancel_upload,
    ),
    route(
        "blob",
        r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)",
        GET=blobs.get_blob,
        HEAD=blobs.head_blob,
        DELETE=blobs.delete_blob,
    ),
    route("referrers", r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)", GET=listing.list_referrers),
    route("token", r"/auth/token", public=True, changes_content=False, GET=token.get_token, POST=token.post_token),
)


class Router:
    def __init__(self, tables: Iterable[Iterable[Route]]):
        self._routes = tuple(route for table in tables for route in table)
        # Pulls repeat the same few paths: remember their routes.
        self.find = functools.lru_cache(maxsize=8192)(self._find)

    def _find(self, path: str) -> tuple[Route, dict[str, str]]:
        """The first route matching `path`, with its parameters; the repository name, if any, is valid."""
        for candidate in self._routes:
            found = candidate.pattern.fullmatch(path)
            if found:
                params = found.groupdict()
                if "name" in params:
                    validate_name(params["name"])
                return candidate, params
        raise HTTPError(404, ErrorCode.UNSUPPORTED, "no such API endpoint")
