#!/usr/bin/env bash
# Install what the web UI's browser tests (tests/ui) need: Debian's Chromium. Playwright for
# Python comes from the `test` extra of pyproject.toml and drives this Chromium by its path; no
# browser is ever downloaded (`playwright install` is never run).
#
# Usage: .ci/install-ui.sh [PYTHON]   PYTHON: a venv directory or python executable to check
#
# Idempotent and non-interactive: nothing is installed when Chromium is already there.
set -euo pipefail

# Chromium, and a font for it to render text with on a minimal system.
if [[ -x /usr/bin/chromium ]] && fc-list 2>/dev/null | grep -qi dejavu; then
    echo "install-ui: chromium already installed"
else
    echo "install-ui: installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi

echo "install-ui: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"

py="${1:-python3}"
if [[ -d "$py" ]]; then
    py="$py/bin/python"
fi
"$py" -c 'import importlib.metadata as m; print("install-ui: playwright", m.version("playwright"))'
