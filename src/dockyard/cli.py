"""The `dockyard` command line."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

from pydantic import ValidationError

from dockyard.auth.setup import check_auth
from dockyard.commands import admin, configcheck, fsck, gc, migrate, retention, usage, user
from dockyard.config import CONFIG_FILE_ENV, Settings, load_settings
from dockyard.settings_check import unknown_environment
from dockyard.versions import versions


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="dockyard: a container registry implementing the OCI Distribution Specification v1.1.",
        epilog="Every setting can also come from a YAML file (--config) or a DOCKYARD_* environment variable.",
    )
    parser.add_argument("--version", action="version", version=versions())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the registry",
        description="Run the registry in the foreground. SIGTERM or Ctrl-C stops it gracefully.",
    )
    add_setting_flags(serve)

    show = commands.add_parser(
        "config", help="print the effective configuration", description="Print the effective configuration as JSON."
    )
    add_setting_flags(show)
    configcheck.register(show)
    admin.register(commands)
    usage.register(commands)
    migrate.register(commands)
    user.register(commands)
    gc.register(commands)
    fsck.register(commands)
    retention.register(commands)
    return parser


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=f"YAML configuration file (or ${CONFIG_FILE_ENV})")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:5000)")
    parser.add_argument("--data-dir", metavar="DIR", help="where metadata and blobs live (default ./dockyard-data)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")


def _apply_flags(args: argparse.Namespace) -> None:
    """Flags win over the environment and the file; they are passed on as environment variables
    because every worker process reads its settings from there."""
    if args.config:
        os.environ[CONFIG_FILE_ENV] = os.path.abspath(args.config)
    for flag, variable in (("listen", "LISTEN"), ("data_dir", "DATA_DIR"), ("workers", "WORKERS")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"DOCKYARD_{variable}"] = str(value)


def _serve(settings: Settings) -> None:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    check_auth(settings.auth, data_dir)
    # Worker processes read their settings from the environment: pass the resolved values on.
    os.environ["DOCKYARD_DATA_DIR"] = str(data_dir)
    os.environ["DOCKYARD_LISTEN"] = settings.listen
    # Metrics of all workers are aggregated through files; prometheus_client picks its storage
    # when first imported, so this must be set before the server module is.
    metrics_dir = tempfile.mkdtemp(prefix="dockyard-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        from dockyard.server import serve  # noqa: PLC0415 - see above

        serve(settings, data_dir)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    _apply_flags(args)
    if hasattr(args, "run_unloaded"):  # commands that judge the configuration themselves
        sys.exit(args.run_unloaded(args))
    try:
        settings = load_settings()
    except (ValidationError, FileNotFoundError, ValueError) as error:
        sys.exit(f"dockyard: invalid configuration: {error}")
    if args.command == "config":
        print(settings.model_dump_json(indent=2))
        return
    if hasattr(args, "run"):
        sys.exit(args.run(settings, args))
    for variable in unknown_environment():
        print(f"dockyard: warning: unknown setting {variable} in the environment (ignored)", file=sys.stderr)
    _serve(settings)
