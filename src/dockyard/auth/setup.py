"""Checks at startup, before any worker starts, so that a bad auth setup stops `dockyard serve` with
a message instead of failing in every worker."""

from __future__ import annotations

import sys
from pathlib import Path

from dockyard.auth.htpasswd import HtpasswdError
from dockyard.auth.keys import KeyFileError
from dockyard.auth.service import load_auth
from dockyard.config.auth import Auth


def check_auth(settings: Auth, data_dir: Path) -> None:
    """Load the users and keys (generating the signing key when absent); exit on failure."""
    try:
        if settings.enabled:
            load_auth(settings, data_dir)
    except (HtpasswdError, KeyFileError, OSError) as error:
        sys.exit(f"dockyard: cannot set up authentication: {error}")
