"""`dockyard serve`: run the registry in the foreground until SIGTERM or Ctrl-C.

Serving starts by beginning anew. prometheus_client picks its storage once, when first imported:
per process, or files in PROMETHEUS_MULTIPROC_DIR that /metrics adds up over all workers. This
process imported it while reading its command line, so it replaces itself (same process id, so
signals and supervisors are unaffected) with a `dockyard serve` that has the directory in its
environment from the start; granian's workers fork from that one and share its storage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import NoReturn

from dockyard import durable
from dockyard.auth.setup import check_auth
from dockyard.commands.flags import add_setting_flags
from dockyard.config.check import consistency_problems, unknown_environment
from dockyard.config.settings import Settings
from dockyard.server import serve

_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the registry",
        description="Run the registry in the foreground. SIGTERM or Ctrl-C stops it gracefully.",
    )
    add_setting_flags(parser)
    # Given by serve to its own second start only (see above); the directory is removed at the end.
    parser.add_argument("--own-metrics-dir", help=argparse.SUPPRESS)
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.own_metrics_dir is None or os.environ.get(_METRICS_DIR_ENV) != args.own_metrics_dir:
        _begin_anew_with_metrics_dir()
    try:
        _serve(settings)
    finally:
        shutil.rmtree(args.own_metrics_dir, ignore_errors=True)
    return 0


def _begin_anew_with_metrics_dir() -> NoReturn:
    """The flags are in the environment already (commands/flags.py): the second start reads them there."""
    directory = tempfile.mkdtemp(prefix="dockyard-metrics-")
    os.environ[_METRICS_DIR_ENV] = directory
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-m", "dockyard", "serve", "--own-metrics-dir", directory]
    os.execv(sys.executable, command)  # noqa: S606 - a fixed command line, no shell


def _serve(settings: Settings) -> None:
    for variable in unknown_environment():
        print(f"dockyard: warning: unknown setting {variable} in the environment (ignored)", file=sys.stderr)
    problems = consistency_problems(settings)
    if problems:
        lines = [f"error: {problem}" for problem in problems]
        sys.exit("\n".join([*lines, f"dockyard: invalid configuration: {len(problems)} problem(s)"]))
    data_dir = settings.data_dir.resolve()
    durable.make_dirs(data_dir)  # what dockyard keeps there survives a power cut only if the directory does
    check_auth(settings.auth, data_dir)
    # Worker processes read their settings from the environment: pass the resolved values on.
    os.environ["DOCKYARD_DATA_DIR"] = str(data_dir)
    os.environ["DOCKYARD_LISTEN"] = settings.listen
    serve(settings, data_dir)
