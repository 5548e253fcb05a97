"""`dockyard admin`: switch runtime settings that every process and instance sharing the
metadata store follows (today: read-only mode)."""

from __future__ import annotations

import argparse
import asyncio

from dockyard.audit.trail import READ_ONLY, operator_entry
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_metadata
from dockyard.config.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("admin", help="switch runtime settings of running registries", description=__doc__)
    actions = parser.add_subparsers(dest="admin_command", required=True, metavar="SETTING")
    read_only = actions.add_parser(
        "read-only",
        help="refuse or accept writes",
        description="Switch read-only mode for every server on these stores: writes then answer 405 "
        "UNSUPPORTED, pulls keep working, garbage collection and webhook delivery pause. Servers see the "
        "switch within a second. `read_only: true` in the configuration keeps a server read-only whatever "
        "this says.",
    )
    add_setting_flags(read_only)
    read_only.add_argument("state", choices=["on", "off", "status"], help="switch on, off, or show the state")
    read_only.set_defaults(run=_read_only)


def _read_only(settings: Settings, args: argparse.Namespace) -> int:
    print(asyncio.run(_switch(settings, args.state)))
    return 0


async def _switch(settings: Settings, state: str) -> str:
    meta = await open_metadata(settings)
    try:
        if state != "status":
            await meta.set_read_only(state == "on", [operator_entry(READ_ONLY, state)])
        enabled = await meta.read_only()
    finally:
        await meta.close()
    configured = " (and read_only: true in this configuration)" if settings.read_only else ""
    return f"read-only mode is {'on' if enabled else 'off'}{configured}"
