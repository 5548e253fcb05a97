"""`/v2/<name>/blobs/<digest>`: download, check and delete blobs."""

from __future__ import annotations

from dockyard.blobs.base import LocalFile, RedirectBlob
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode
from dockyard.events.envelope import BLOB_MEDIA_TYPE, Target
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import FileResponse, Request, Response, StreamResponse
from dockyard.http.origin import origin_of
from dockyard.http.ranges import RangeNotSatisfiable, parse_range


def _headers(digest: Digest) -> list[tuple[str, str]]:
    return [
        ("content-type", "application/octet-stream"),
        ("docker-content-digest", str(digest)),
        ("etag", f'"{digest}"'),
        ("accept-ranges", "bytes"),
        # Content under a digest never changes.
        ("cache-control", "max-age=31536000"),
    ]


async def head_blob(ctx: Context, req: Request, name: str, digest: str) -> Response:
    blob = Digest.parse(digest)
    size, req.cache = await ctx.registry.blobs.head(name, blob)
    return Response(200, [*_headers(blob), ("content-length", str(size))])


async def get_blob(ctx: Context, req: Request, name: str, digest: str) -> Response | FileResponse | StreamResponse:
    blob = Digest.parse(digest)
    source, req.cache = await ctx.registry.blobs.pull(name, blob)
    if ctx.pulls is not None and ctx.pulls.wants(name):
        size = None if isinstance(source, RedirectBlob) else source.size  # a redirect's size is not at hand
        ctx.pulls.record(Target(name, str(blob), BLOB_MEDIA_TYPE, size, kind="blobs"), origin_of(ctx, req))
    if isinstance(source, RedirectBlob):
        # The client sends its Range to the URL itself; the digest lets it check what it got.
        return Response(307, [("location", source.url), ("docker-content-digest", str(blob)), ("content-length", "0")])
    headers = _headers(blob)
    start, end, status = 0, source.size, 200
    range_header = req.header("range")
    if range_header:
        try:
            span = parse_range(range_header, source.size)
        except RangeNotSatisfiable:
            raise HTTPError(
                416,
                ErrorCode.SIZE_INVALID,
                f"range not satisfiable for a blob of {source.size} bytes",
                [("content-range", f"bytes */{source.size}")],
            ) from None
        if span is not None:
            start, end = span
            status = 206
            headers.append(("content-range", f"bytes {start}-{end - 1}/{source.size}"))
    if end == start:
        return Response(status, headers)
    headers.append(("content-length", str(end - start)))
    if isinstance(source, LocalFile):
        return FileResponse(status, headers, source.path, start, end)
    return StreamResponse(status, headers, await source.open(start, end), end - start)


async def delete_blob(ctx: Context, req: Request, name: str, digest: str) -> Response:
    await ctx.registry.blobs.delete(name, Digest.parse(digest), origin=origin_of(ctx, req))
    return Response(202)
