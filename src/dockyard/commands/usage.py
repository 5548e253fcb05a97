"""`dockyard usage`: what each repository holds, from the metadata store alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, astuple

from tqdm import tqdm

from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_metadata
from dockyard.config.settings import Settings
from dockyard.meta.usage import RepositoryUsage

_PAGE = 1000
_ROW = "{:40} {:>9} {:>6} {:>6} {:>14} {:>14}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "usage",
        help="storage used per repository",
        description="Per repository: manifests, tags, linked blobs, their bytes (each blob once) and the bytes "
        "of blobs other repositories share.",
    )
    add_setting_flags(parser)
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    rows = asyncio.run(_collect(settings))
    if args.json:
        print(json.dumps({"repositories": [usage_json(row) for row in rows]}, indent=2))
        return 0
    print(_ROW.format("REPOSITORY", "MANIFESTS", "TAGS", "BLOBS", "BYTES", "SHARED"))
    for row in rows:
        print(_ROW.format(*astuple(row)))
    print(f"{len(rows)} repositories")
    return 0


def usage_json(row: RepositoryUsage) -> dict[str, object]:
    return asdict(row)


async def _collect(settings: Settings) -> list[RepositoryUsage]:
    meta = await open_metadata(settings)
    rows: list[RepositoryUsage] = []
    try:
        # On a terminal, a count of the repositories read so far (stores can hold many thousands).
        with tqdm(unit=" repositories", desc="usage", disable=None, file=sys.stderr) as progress:
            while page := await meta.repository_usage(_PAGE, rows[-1].repository if rows else None):
                rows.extend(page)
                progress.update(len(page))
    finally:
        await meta.close()
    return rows
