"""The versions `dockyard --version` reports: what a bug report needs."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from dockyard import __version__


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def versions() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"dockyard {__version__} (granian {_installed('granian')}, {python})"
