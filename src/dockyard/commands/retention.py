"""`dockyard retention [--dry-run]`: apply the retention rules once and print what they deleted."""

from __future__ import annotations

import argparse
import asyncio

from dockyard.audit.trail import RETENTION, operator_entry
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.gc.retention import Retention, describe


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "retention",
        help="apply the retention rules now",
        description="Delete the tags and untagged manifests the `retention` rules do not keep, and print "
        "them; garbage collection frees their blobs later. Safe while the registry serves.",
    )
    add_setting_flags(parser)
    parser.add_argument("--dry-run", action="store_true", help="print what would be deleted; delete nothing")
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    print("\n".join(asyncio.run(_apply(settings, args.dry_run))))
    return 0


async def _apply(settings: Settings, dry_run: bool) -> list[str]:
    async with open_stores(settings) as (meta, _):
        retention = Retention(meta, settings.retention)
        plans = await (retention.plan() if dry_run else retention.apply())
        lines = describe(plans, dry_run)
        if not dry_run:
            await meta.append_audit([operator_entry(RETENTION, lines[-1])])
        return lines
