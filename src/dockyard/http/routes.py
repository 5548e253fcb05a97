"""The route table of the /v2/ API: path patterns, and a handler for each method."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dockyard.http.handlers import base, blobs, browse, listing, manifests, token, ui, uploads

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
_UI_REPOSITORY = r"/v2/_dockyard/repositories/(?P<name>.+)/-"
ROUTES = (
    # The web UI and its JSON API; `/-/` ends a repository name (see handlers/browse.py).
    _route("ui_root", r"/", GET=ui.root),
    _route("ui_root", r"/ui", GET=ui.ui_without_slash),
    _route("ui_asset", r"/ui/", GET=ui.asset, HEAD=ui.asset),
    _route("ui_asset", r"/ui/(?P<file>[A-Za-z0-9][A-Za-z0-9._-]*)", GET=ui.asset, HEAD=ui.asset),
    _route("ui_session", r"/v2/_dockyard/session", GET=browse.session, POST=browse.log_in, DELETE=browse.log_out),
    _route("ui_repositories", r"/v2/_dockyard/repositories", GET=browse.repositories),
    _route("ui_tags", _UI_REPOSITORY + r"/tags", GET=browse.tags),
    _route("ui_tag", _UI_REPOSITORY + r"/tags/(?P<tag>[^/]+)", DELETE=browse.delete_tag),
    _route(
        "ui_manifest",
        _UI_REPOSITORY + r"/manifests/(?P<reference>[^/]+)",
        GET=browse.manifest,
        DELETE=browse.delete_manifest,
    ),
    _route("ui_rights", _UI_REPOSITORY + r"/rights", GET=browse.rights),
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
