"""`/v2/<name>/manifests/<reference>`: push, pull, check and delete manifests and tags."""

from __future__ import annotations

from dockyard.events.envelope import Target
from dockyard.http.context import Context
from dockyard.http.messages import Request, Response
from dockyard.http.origin import origin_of
from dockyard.registry.manifests import PulledManifest


def _headers(req: Request, pulled: PulledManifest) -> list[tuple[str, str]]:
    ref = pulled.ref
    headers = [
        ("content-type", ref.media_type),
        ("docker-content-digest", ref.digest),
        ("etag", f'"{ref.digest}"'),
    ]
    req.cache = pulled.cache
    if pulled.warning is not None:
        headers.append(("warning", pulled.warning))
    return headers


async def head_manifest(ctx: Context, req: Request, name: str, reference: str) -> Response:
    pulled = await ctx.registry.manifests.pull(name, reference, head=True)
    return Response(200, [*_headers(req, pulled), ("content-length", str(pulled.ref.size))])


async def get_manifest(ctx: Context, req: Request, name: str, reference: str) -> Response:
    pulled = await ctx.registry.manifests.pull(name, reference)
    ref = pulled.ref
    events = ctx.pulls if ctx.pulls is not None and ctx.pulls.wants(name) else None
    audit = ctx.pull_audit if ctx.pull_audit is not None and ctx.pull_audit.wants(name) else None
    if events is not None or audit is not None:
        tag = None if ":" in reference else reference  # digests contain a colon, tags never do
        target, origin = Target(name, ref.digest, ref.media_type, ref.size, tag), origin_of(ctx, req)
        if events is not None:
            events.record(target, origin)
        if audit is not None:
            await audit.record(target, origin)
    return Response(200, _headers(req, pulled), pulled.body)


async def put_manifest(ctx: Context, req: Request, name: str, reference: str) -> Response:
    body = await req.read_body(ctx.manifest_max_bytes)
    extra_tags = req.query_all("tag")
    tag_moves = ctx.access.tag_moves(req.principal, name)
    stored = await ctx.registry.manifests.put(
        name,
        reference,
        body,
        req.header("content-type"),
        extra_tags,
        tag_moves=tag_moves,
        origin=origin_of(ctx, req),
    )
    headers = [("location", f"/v2/{name}/manifests/{stored.digest}"), ("docker-content-digest", stored.digest)]
    if stored.subject:
        headers.append(("oci-subject", stored.subject))
    if extra_tags:
        headers.extend(("oci-tag", tag) for tag in stored.tags)
    return Response(201, headers)


async def delete_manifest(ctx: Context, req: Request, name: str, reference: str) -> Response:
    tag_moves = ctx.access.tag_moves(req.principal, name)
    await ctx.registry.manifests.delete(name, reference, tag_moves=tag_moves, origin=origin_of(ctx, req))
    return Response(202)
