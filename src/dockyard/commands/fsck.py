"""`dockyard fsck [--repair]`: re-hash every blob, check every reference, report what is wrong."""

from __future__ import annotations

import argparse
import asyncio

from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.gc.fsck import Checker


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fsck",
        help="check every blob and reference",
        description="Re-hash every blob the registry holds and check every manifest's references; print "
        "corrupt, missing and dangling ones and exit 1 if there are any. Safe while the registry serves.",
    )
    add_setting_flags(parser)
    parser.add_argument(
        "--repair",
        action="store_true",
        help="quarantine corrupt blobs and forget missing ones, so they read as unknown and can be pushed again",
    )
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    lines, problems = asyncio.run(_check(settings, args.repair))
    print("\n".join(lines))
    return 1 if problems else 0


async def _check(settings: Settings, repair: bool) -> tuple[list[str], int]:
    async with open_stores(settings) as (meta, store):
        report = await Checker(meta, store).check(repair=repair)
        return report.lines(), len(report.findings) - report.repaired
