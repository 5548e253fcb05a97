#!/usr/bin/env bash
# Install what the web UI's browser tests (tests/ui) need: Debian's Chromium. Playwright for
# Python comes from the `test` extra of pyproject.toml and drives this Chromium by its path; no
# browser is ever downloaded (`playwright install` is never run).
#
# Usage: .ci/install-ui.sh [PYTHON]   PYTHON: a venv directory or python executable to check
#
# Idempotent and non-interactive: nothing is installed when Chromium is already there.
set -euo pipefail

debs=(chromium fonts-dejavu-core)

missing=()
for pkg in "${debs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "install-ui: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-ui: Debian packages already installed"
fi

echo "install-ui: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"

py="${1:-python3}"
if [[ -d "$py" ]]; then
    py="$py/bin/python"
fi
"$py" -c 'import importlib.metadata as m; print("install-ui: playwright", m.version("playwright"))'
