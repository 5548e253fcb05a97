"""`dockyard proxy warm REF...`: fetch images into the pull-through cache ahead of their pulls, with a
progress bar. Safe while servers run on the same stores: it takes the same download leases."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.core.errors import RegistryError
from dockyard.events.envelope import Source
from dockyard.events.fills import FillNotifier
from dockyard.events.notifier import Notifier
from dockyard.proxy import PullThroughCache
from dockyard.proxy.warm import ManifestBody, WarmError, collect, fetch_blobs, parse_target


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("proxy", help="the pull-through cache", description="The pull-through cache.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    warm = actions.add_parser(
        "warm",
        help="fetch images into the cache now",
        description="Fetch images into the pull-through cache (every platform of an index, and their layers) "
        "as a pull through the cache would. Safe while the registry serves.",
    )
    add_setting_flags(warm)
    warm.add_argument(
        "references", nargs="+", metavar="REF", help="an image under an upstream's prefix: hub/library/alpine:3.20"
    )
    warm.add_argument("--quiet", action="store_true", help="no progress bar")
    warm.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.proxy.upstreams:
        print("dockyard: no proxy.upstreams are configured", file=sys.stderr)
        return 2
    return asyncio.run(_warm_all(settings, args.references, args.quiet))


async def _warm_all(settings: Settings, references: list[str], quiet: bool) -> int:
    failed = 0
    async with open_stores(settings) as (meta, store):
        notifier = Notifier(settings.notifications.endpoints, Source.of_this_process(settings.port))
        cache = PullThroughCache(
            settings.proxy,
            meta,
            store,
            manifest_max_bytes=settings.limits.manifest_max_bytes,
            events=FillNotifier(notifier),
        )
        try:
            for reference in references:
                try:
                    print(await _warm(cache, reference, meta.manifest_body, quiet))
                except (WarmError, RegistryError) as error:
                    failed += 1
                    print(f"dockyard: {reference}: {getattr(error, 'message', error)}", file=sys.stderr)
        finally:
            await cache.close()
    return 1 if failed else 0


async def _warm(cache: PullThroughCache, reference: str, body_of: ManifestBody, quiet: bool) -> str:
    route, target = parse_target(cache, reference)
    warmed = await collect(cache, route, target, body_of)
    with tqdm(total=warmed.bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=reference, disable=quiet) as bar:
        await fetch_blobs(cache, route, warmed, bar.update)
    return (
        f"{reference}: {warmed.manifests} manifests, {len(warmed.blobs)} blobs ({warmed.bytes} bytes), "
        f"{warmed.fetched} fetched from {route.upstream.describe()}"
    )
