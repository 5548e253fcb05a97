"""`dockyard serve`: run the registry in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys

from dockyard.auth.setup import check_auth
from dockyard.commands.flags import add_setting_flags
from dockyard.config.check import unknown_environment
from dockyard.config.settings import Settings
from dockyard.server import serve


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the registry",
        description="Run the registry in the foreground. SIGTERM or Ctrl-C stops it gracefully.",
    )
    add_setting_flags(parser)
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 - uniform command signature
    for variable in unknown_environment():
        print(f"dockyard: warning: unknown setting {variable} in the environment (ignored)", file=sys.stderr)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    check_auth(settings.auth, data_dir)
    # Worker processes read their settings from the environment: pass the resolved values on.
    os.environ["DOCKYARD_DATA_DIR"] = str(data_dir)
    os.environ["DOCKYARD_LISTEN"] = settings.listen
    serve(settings, data_dir)
    return 0
