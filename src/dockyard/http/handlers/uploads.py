"""`/v2/<name>/blobs/uploads/`: every way clients push blobs, and cross-repository mounts."""

from __future__ import annotations

from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.names import validate_name
from dockyard.http.context import Context
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request, Response
from dockyard.http.origin import origin_of
from dockyard.http.ranges import parse_content_range, upload_range
from dockyard.registry.uploads import UploadRangeError, UploadStatus


def _session_headers(name: str, status: UploadStatus) -> list[tuple[str, str]]:
    return [
        ("location", f"/v2/{name}/blobs/uploads/{status.id}"),
        ("range", upload_range(status.size)),
        ("docker-upload-uuid", status.id),
    ]


def _created(name: str, digest: Digest) -> Response:
    return Response(201, [("location", f"/v2/{name}/blobs/{digest}"), ("docker-content-digest", str(digest))])


def _required_digest(req: Request) -> Digest:
    value = req.query("digest")
    if value is None:
        raise RegistryError(ErrorCode.DIGEST_INVALID, "the digest query parameter is required")
    return Digest.parse(value)


def _chunk_start(req: Request) -> int | None:
    """Where the chunk says it starts, checked against its declared length."""
    header = req.header("content-range")
    if header is None:
        return None
    span = parse_content_range(header)
    if span is None:
        raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, f"malformed Content-Range: {header[:80]!r}")
    length = req.content_length()
    if length is not None and length != span[1] - span[0] + 1:
        raise RegistryError(ErrorCode.SIZE_INVALID, "Content-Range does not match Content-Length")
    return span[0]


def _out_of_order(name: str, error: UploadRangeError) -> HTTPError:
    return HTTPError(416, error.code, error.message, _session_headers(name, error.status))


async def start_upload(ctx: Context, req: Request, name: str) -> Response:
    uploads = ctx.registry.uploads
    owner = req.principal.name if req.principal is not None and req.principal.name else None
    mount = req.query("mount")
    if mount is not None:
        digest = Digest.parse(mount)
        source = req.query("from")
        if source is not None:
            validate_name(source)
        if await ctx.registry.blobs.mount(name, digest, source, ctx.pull_permission(req), origin=origin_of(ctx, req)):
            return _created(name, digest)
    elif req.query("digest") is not None:
        digest = _required_digest(req)
        await uploads.upload_whole(
            name, digest, req.body(), req.content_length(), owner=owner, origin=origin_of(ctx, req)
        )
        return _created(name, digest)
    status = await uploads.start(name, owner)
    return Response(202, _session_headers(name, status))


async def upload_status(ctx: Context, req: Request, name: str, upload_id: str) -> Response:  # noqa: ARG001
    status = await ctx.registry.uploads.status(name, upload_id)
    return Response(204, _session_headers(name, status))


async def append_chunk(ctx: Context, req: Request, name: str, upload_id: str) -> Response:
    try:
        status = await ctx.registry.uploads.append(
            name, upload_id, req.body(), _chunk_start(req), length=req.content_length()
        )
    except UploadRangeError as error:
        raise _out_of_order(name, error) from None
    return Response(202, _session_headers(name, status))


async def complete_upload(ctx: Context, req: Request, name: str, upload_id: str) -> Response:
    digest = _required_digest(req)
    try:
        await ctx.registry.uploads.complete(
            name,
            upload_id,
            digest,
            req.body(),
            _chunk_start(req),
            length=req.content_length(),
            origin=origin_of(ctx, req),
        )
    except UploadRangeError as error:
        raise _out_of_order(name, error) from None
    return _created(name, digest)


async def cancel_upload(ctx: Context, req: Request, name: str, upload_id: str) -> Response:  # noqa: ARG001
    await ctx.registry.uploads.cancel(name, upload_id)
    return Response(204)
