"""`dockyard replicate run RULE [--dry-run]` and `dockyard replicate status`.

A run from the command line is a run like the servers' own: it takes the rule's lease (so it never
overlaps a scheduled or event run anywhere), writes through the registry and is recorded in the
rule's history. Safe beside running servers on the same stores.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from tqdm import tqdm

from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_stores
from dockyard.config.settings import Settings
from dockyard.meta.replication import ReplicationRun
from dockyard.replication.copier import Plan
from dockyard.replication.service import RuleStatus
from dockyard.server import compose


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replicate", help="run replication rules, show their status", description="Replication (docs/replication.md)."
    )
    commands = parser.add_subparsers(dest="replicate_command", required=True, metavar="SUBCOMMAND")
    run = commands.add_parser(
        "run", help="run a rule now", description="Copy what the rule selects and the other side lacks, now."
    )
    run.add_argument("rule", help="the rule's name")
    run.add_argument("--dry-run", action="store_true", help="print what would be copied and deleted; change nothing")
    add_setting_flags(run)
    run.set_defaults(run=_run)
    status = commands.add_parser("status", help="list the rules with their last runs, lag and pending events")
    add_setting_flags(status)
    status.set_defaults(run=_status)


class _Bar:
    """The progress of a run on the terminal: images (manifests with their tags) against the plan,
    with the blobs and bytes moved, the rate and the time left."""

    def __init__(self) -> None:
        self._bar = tqdm(total=0, unit="image", dynamic_ncols=True, desc="manifests")
        self._blobs = 0
        self._bytes = 0
        self._started = time.monotonic()

    def planned(self, images: int) -> None:
        self._bar.total = images
        self._bar.refresh()

    def image_done(self) -> None:
        self._bar.update(1)

    def blob_done(self) -> None:
        self._blobs += 1
        self._show()

    def bytes_moved(self, count: int) -> None:
        self._bytes += count
        self._show()

    def _show(self) -> None:
        rate = self._bytes / max(time.monotonic() - self._started, 1e-3)
        self._bar.set_postfix_str(f"blobs {self._blobs}, {_size(self._bytes)}, {_size(rate)}/s", refresh=False)

    def close(self) -> None:
        self._bar.close()


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.rule not in {rule.name for rule in settings.replication.rules}:
        known = ", ".join(rule.name for rule in settings.replication.rules) or "none configured"
        print(f"dockyard: no replication rule {args.rule!r} (rules: {known})")
        return 2
    return asyncio.run(_plan(settings, args.rule) if args.dry_run else _copy(settings, args.rule))


async def _plan(settings: Settings, rule: str) -> int:
    async with open_stores(settings) as (meta, store):
        composed = compose(settings, meta, store)
        try:
            plan = await composed.replication.runners[rule].plan()
        finally:
            await composed.replication.close()
    print("\n".join(_plan_lines(plan)))
    return 0


def _plan_lines(plan: Plan) -> list[str]:
    lines = [
        f"copy {image.source}@{image.digest} -> {image.destination}:{','.join(image.tags)}" for image in plan.images
    ]
    lines += [f"delete {repository}:{tag}" for repository, tag, _ in plan.deletions]
    lines.append(
        f"dry run: {len(plan.images)} manifests to copy, {len(plan.unchanged)} up to date, "
        f"{len(plan.deletions)} tags to delete"
    )
    return lines


async def _copy(settings: Settings, rule: str) -> int:
    async with open_stores(settings) as (meta, store):
        if settings.read_only or await meta.read_only():
            print("dockyard: the registry is in read-only mode; nothing was replicated (--dry-run still works)")
            return 1
        composed = compose(settings, meta, store)
        bar = _Bar()
        try:
            run = await composed.replication.runners[rule].run("manual", progress=bar)
        finally:
            bar.close()
            await composed.replication.close()
    if run is None:
        print(f"dockyard: rule {rule} is running elsewhere now; try again when that run ends")
        return 1
    print(_summary(run))
    return 0 if run.result == "succeeded" else 1


def _summary(run: ReplicationRun) -> str:
    seconds = run.finished_at - run.started_at
    line = (
        f"{run.rule}: {run.result} in {seconds:.1f} s: {run.manifests} manifests, {run.blobs} blobs, "
        f"{_size(run.bytes)} ({_size(run.bytes / max(seconds, 1e-3))}/s)"
    )
    return line + (f"; {run.errors} errors: {run.message}" if run.errors else "")


def _status(settings: Settings, _args: argparse.Namespace) -> int:
    statuses = asyncio.run(_statuses(settings))
    if not statuses:
        print("no replication rules configured")
        return 0
    header = ("RULE", "DIRECTION", "TARGET", "TRIGGER", "LAST RUN", "RESULT", "LAG", "PENDING")
    print("{:20} {:9} {:14} {:9} {:20} {:9} {:>9} {:>7}".format(*header))
    for status in statuses:
        print(_status_line(status))
        if status.runs and status.runs[0].message:
            print(f"  {status.runs[0].message}")
    return 0 if all(not status.runs or status.runs[0].result == "succeeded" for status in statuses) else 1


def _status_line(status: RuleStatus) -> str:
    last = status.runs[0] if status.runs else None
    when = datetime.fromtimestamp(last.started_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if last else "never"
    lag = "-" if status.lag is None else f"{status.lag:.0f}s"
    pending = "-" if status.pending is None else str(status.pending)
    result = last.result if last else "-"
    return (
        f"{status.name:20} {status.direction:9} {status.target:14} {status.trigger:9} {when:20} {result:9} "
        f"{lag:>9} {pending:>7}"
    )


async def _statuses(settings: Settings) -> list[RuleStatus]:
    async with open_stores(settings) as (meta, store):
        composed = compose(settings, meta, store)
        return await composed.replication.status()
