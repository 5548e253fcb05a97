"""The route table of the /v2/ API: path patterns, and a handler for each method."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dockyard.http.handlers import base, blobs, listing, manifests, token, uploads

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: dict[str, Handler]


def _route(name: str, pattern: str, **methods: Handler) -> Route:
    return Route(name, re.compile(pattern), methods)


# Repository names contain slashes, so each pattern anchors on the fixed words after the name;
# uploads are tried before blobs so that `.../blobs/uploads/` is never read as a digest.
ROUTES = (
    _route("base", r"/v2/?", GET=base.version_check, HEAD=base.version_check),
    _route("catalog", r"/v2/_catalog", GET=listing.list_repositories),
    _route("usage", r"/v2/_dockyard/usage", GET=listing.list_usage),
    _route("tags", r"/v2/(?P<name>.+)/tags/list", GET=listing.list_tags),
    _route(
        "manifest",
        r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)",
        GET=manifests.get_manifest,
        HEAD=manifests.head_manifest,
        PUT=manifests.put_manifest,
        DELETE=manifests.delete_manifest,
    ),
    _route("upload_start", r"/v2/(?P<name>.+)/blobs/uploads/?", POST=uploads.start_upload),
    _route(
        "upload",
        r"/v2/(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)",
        GET=uploads.upload_status,
        PATCH=uploads.append_chunk,
        PUT=uploads.complete_upload,
        DELETE=uploads.cancel_upload,
    ),
    _route(
        "blob",
        r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)",
        GET=blobs.get_blob,
        HEAD=blobs.head_blob,
        DELETE=blobs.delete_blob,
    ),
    _route("referrers", r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)", GET=listing.list_referrers),
    _route("token", r"/auth/token", GET=token.get_token, POST=token.post_token),
)


def match(path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None
