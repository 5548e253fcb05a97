"""Listing endpoints: `/v2/<name>/tags/list`, `/v2/_catalog`, `/v2/<name>/referrers/<digest>` and
`/v2/_dockyard/usage`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import urlencode

from dockyard.core import mediatypes
from dockyard.core.decimals import parse_decimal
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode
from dockyard.core.names import is_name, is_tag
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.registry.listing import Page


def _invalid_page(message: str) -> HTTPError:
    return HTTPError(400, ErrorCode.UNSUPPORTED, message)


def _page_size(req: Request) -> int | None:
    value = req.query("n")
    if value is None:
        return None
    n = parse_decimal(value)
    if n is None:
        raise _invalid_page("n must be a non-negative integer")
    return n


def _last(req: Request, is_valid: Callable[[str], bool], what: str) -> str | None:
    """The entry a page starts after; it must look like what is listed."""
    value = req.query("last")
    if value is None or value == "":
        return None
    if not is_valid(value):
        raise _invalid_page(f"last must be a {what}")
    return value


def _json_page(path: str, key: str, page: Page, n: int | None, extra: dict[str, str]) -> Response:
    headers = [("content-type", "application/json")]
    if page.more and page.items:
        query = urlencode({"n": n if n is not None else len(page.items), "last": page.items[-1]})
        headers.append(("link", f'<{path}?{query}>; rel="next"'))
    body = json.dumps({**extra, key: page.items}, separators=(",", ":")).encode()
    return Response(200, headers, body)


async def list_tags(ctx: Context, req: Request, name: str) -> Response:
    n = _page_size(req)
    page = await ctx.registry.listing.tags(name, n, _last(req, is_tag, "tag"))
    return _json_page(req.path, "tags", page, n, {"name": name})


async def list_repositories(ctx: Context, req: Request) -> Response:
    n = _page_size(req)
    visible = ctx.access.catalog_filter(req.principal)
    page = await ctx.registry.listing.repositories(n, _last(req, is_name, "repository name"), visible)
    return _json_page(req.path, "repositories", page, n, {})


async def list_usage(ctx: Context, req: Request) -> Response:
    """Per repository: manifests, tags, linked blobs and their bytes, paged like the catalog.
    Meant for administrators: once authorization exists, the route named "usage" is theirs only."""
    n = _page_size(req)
    limit = ctx.registry.operations.page_limit(n)
    rows = await ctx.registry.operations.usage(limit, _last(req, is_name, "repository name"))
    names = [row.repository for row in rows]
    page = Page(names, more=len(rows) == limit)
    response = _json_page(req.path, "repositories", page, n, {})
    response.body = json.dumps({"repositories": [asdict(row) for row in rows]}, separators=(",", ":")).encode()
    return response


async def list_referrers(ctx: Context, req: Request, name: str, digest: str) -> Response:
    artifact_type = req.query("artifactType")
    body = await ctx.registry.listing.referrers(name, Digest.parse(digest), artifact_type)
    headers = [("content-type", mediatypes.OCI_INDEX)]
    if artifact_type is not None:
        headers.append(("oci-filters-applied", "artifactType"))
    return Response(200, headers, body)
