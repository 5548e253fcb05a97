"""The `dockyard` command line: the subcommands of commands/, one module each."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import yaml
from pydantic import ValidationError

from dockyard.commands import (
    admin,
    audit,
    config,
    fsck,
    gc,
    migrate,
    proxy,
    replicate,
    retention,
    serve,
    token,
    usage,
    user,
)
from dockyard.commands.flags import apply_setting_flags
from dockyard.commands.versions import versions
from dockyard.config.check import refusal
from dockyard.config.settings import load_settings
from dockyard.core.errors import store_fault

_COMMANDS = (serve, config, admin, usage, migrate, user, token, gc, fsck, retention, replicate, proxy, audit)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="dockyard: a container registry implementing the OCI Distribution Specification v1.1.",
        epilog="Every setting can also come from a YAML file (--config) or a DOCKYARD_* environment variable.",
    )
    parser.add_argument("--version", action="version", version=versions())
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    try:
        _main(argv)
    except BrokenPipeError:
        # Whoever read the output left (`dockyard audit | head`): stop quietly, as Unix tools do.
        # The rest of the output goes nowhere, so that flushing it at exit raises nothing either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def _main(argv: Sequence[str] | None) -> None:
    args = _parser().parse_args(argv)
    apply_setting_flags(args)
    if hasattr(args, "run_unloaded"):  # commands that judge the configuration themselves
        sys.exit(args.run_unloaded(args))
    try:
        settings = load_settings()
    except (ValidationError, FileNotFoundError, ValueError, yaml.YAMLError) as error:
        sys.exit(refusal(error))
    try:
        status = args.run(settings, args)
    except Exception as error:
        fault = store_fault(error)
        if fault is None:
            raise
        # A store that is full, read-only or down: one line, and the command can be run again.
        sys.exit(f"dockyard {args.command}: {type(fault).__name__}: {fault}")
    sys.exit(status)
