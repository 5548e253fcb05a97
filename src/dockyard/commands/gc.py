"""`dockyard gc`: run the due garbage-collection reviews once and print what they freed.

Safe while servers run on the same stores, and on several machines at once: it takes reviews
from the same queue as the servers' background workers.
"""

from __future__ import annotations

import argparse
import asyncio

from dockyard.audit.trail import GC, operator_entry
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.gc.collector import Collector
from dockyard.gc.report import Report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gc",
        help="collect garbage now",
        description="Run the due garbage-collection reviews once and print the manifests, blobs and bytes "
        "freed per repository. Safe while the registry serves.",
    )
    add_setting_flags(parser)
    parser.add_argument("--dry-run", action="store_true", help="print what would be freed; delete nothing")
    parser.add_argument(
        "--now",
        action="store_true",
        help="treat every queued review as due, ignoring gc.review_delay_seconds (pushes in flight may "
        "then have to upload their blobs again)",
    )
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    report = asyncio.run(_collect(settings, now=args.now, dry_run=args.dry_run))
    if report is None:
        print("dockyard: the registry is in read-only mode; nothing was collected (--dry-run still works)")
        return 1
    print("\n".join(report.lines()))
    return 0


async def _collect(settings: Settings, now: bool, dry_run: bool) -> Report | None:
    async with open_stores(settings) as (meta, store):
        if not dry_run and (settings.read_only or await meta.read_only()):
            return None
        report = await Collector(meta, store, settings.gc).collect(now=now, dry_run=dry_run)
        if not dry_run:  # a dry run changes nothing: nothing to audit
            await meta.append_audit([operator_entry(GC, report.summary())])
        return report
