"""`dockyard config`: print the effective configuration; `config check` judges one, `config schema`
describes them all."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from dockyard.blobs.base import BlobStore
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_blobs, open_metadata
from dockyard.config.check import Problem, check
from dockyard.config.settings import CONFIG_FILE_ENV, Settings
from dockyard.meta.lifecycle import Lifecycle

_CONNECT_TIMEOUT = 10.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "config", help="print the effective configuration", description="Print the effective configuration as JSON."
    )
    add_setting_flags(parser)
    parser.set_defaults(run=_show)
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION")
    checker = actions.add_parser(
        "check",
        help="validate a configuration",
        description="Validate a configuration file and the DOCKYARD_* environment: unknown keys, wrong types, "
        "missing files; with --connect, also reach the stores. Exit status 0 when valid, 1 otherwise.",
    )
    checker.add_argument("file", nargs="?", metavar="FILE", help=f"YAML file (default --config or ${CONFIG_FILE_ENV})")
    add_setting_flags(checker)
    checker.add_argument(
        "--connect",
        action="store_true",
        help="also open the metadata and blob stores as a server would (an empty SQLite database and blob "
        "directories are created in data_dir if none are there)",
    )
    checker.set_defaults(run_unloaded=_check)
    schema = actions.add_parser(
        "schema", help="print the JSON Schema of the configuration", description="For editors and CI."
    )
    schema.set_defaults(run_unloaded=_schema)


def _show(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 - uniform command signature
    print(settings.model_dump_json(indent=2))
    return 0


def _schema(args: argparse.Namespace) -> int:  # noqa: ARG001 - uniform command signature
    print(json.dumps(Settings.model_json_schema(), indent=2))
    return 0


def _check(args: argparse.Namespace) -> int:
    named = args.file or os.environ.get(CONFIG_FILE_ENV)
    config_file = Path(named) if named else None
    settings, problems = check(config_file)
    if settings is not None and args.connect and not problems:
        problems = asyncio.run(_connect(settings))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    source = config_file or "defaults and environment"
    if problems:
        print(f"{source}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{source}: valid")
    return 0


async def _connect(settings: Settings) -> list[Problem]:
    """Open the stores a server of these settings would use and ask each to answer."""
    openers: dict[str, Callable[[Settings], Awaitable[Lifecycle | BlobStore]]] = {
        "metadata store": open_metadata,
        "blob store": open_blobs,
    }
    problems = []
    for part, open_store in openers.items():
        try:
            store = await asyncio.wait_for(open_store(settings), _CONNECT_TIMEOUT)
            try:
                await asyncio.wait_for(store.ping(), _CONNECT_TIMEOUT)
            finally:
                await store.close()
        except Exception as error:  # whatever fails is what the operator must hear about
            problems.append(Problem(part, f"cannot be reached: {error}", "check its address, credentials and path"))
    return problems
