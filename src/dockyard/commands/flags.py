"""The flags every command that reads the configuration takes, and how they reach the settings."""

from __future__ import annotations

import argparse
import os

from dockyard.config.settings import CONFIG_FILE_ENV


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=f"YAML configuration file (or ${CONFIG_FILE_ENV})")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:5000)")
    parser.add_argument("--data-dir", metavar="DIR", help="where metadata and blobs live (default ./dockyard-data)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")


def apply_setting_flags(args: argparse.Namespace) -> None:
    """Flags win over the environment and the file; they are passed on as environment variables
    because every worker process reads its settings from there."""
    if args.config:
        os.environ[CONFIG_FILE_ENV] = os.path.abspath(args.config)
    for flag, variable in (("listen", "LISTEN"), ("data_dir", "DATA_DIR"), ("workers", "WORKERS")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"DOCKYARD_{variable}"] = str(value)
