"""`dockyard audit`: the audit log, oldest first, filtered by repository, user and time; as text or
JSON lines (for export)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from dockyard.audit.export import json_line, parse_since, text_line
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_metadata
from dockyard.config.settings import Settings
from dockyard.meta.audit import AuditLog, AuditQuery, AuditRecord

_PAGE = 1000


def since(text: str) -> float:
    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time or an age (2026-12-01, 2026-12-01T08:00Z, 12h, 7d): {text!r}"
        ) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="show the audit log",
        description="Print the audit log, oldest first: pushes, tag moves, deletes, failed logins and admin "
        "actions, with who, from where, when and the request id.",
    )
    add_setting_flags(parser)
    parser.add_argument("--repository", metavar="R", help="only entries about this repository")
    parser.add_argument("--user", metavar="U", help="only entries of this actor")
    parser.add_argument("--since", metavar="T", type=since, help="from this time (ISO 8601) or age (12h, 7d) on")
    parser.add_argument("--json", action="store_true", help="JSON lines, one object per entry (for export)")
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    query = AuditQuery(repository=args.repository, actor=args.user, since=args.since, limit=_PAGE)
    asyncio.run(_print(settings, query, json_line if args.json else text_line))
    return 0


async def _print(settings: Settings, query: AuditQuery, line: Callable[[AuditRecord], str]) -> None:
    meta = await open_metadata(settings)
    try:
        async for record in entries(meta, query):
            print(line(record))
    finally:
        await meta.close()


async def entries(log: AuditLog, query: AuditQuery) -> AsyncIterator[AuditRecord]:
    """Every matching entry, a page at a time: a log of millions never sits in memory at once."""
    while page := await log.audit_entries(query):
        for record in page:
            yield record
        query = replace(query, after_id=page[-1].id)
