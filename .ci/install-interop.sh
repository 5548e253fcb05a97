#!/usr/bin/env bash
# Install the registry clients that the interoperability suite (tests/interop) drives.
#
# Usage: .ci/install-interop.sh [PYTHON]
#   PYTHON: a venv directory or a python executable in which the Python clients (oras,
#           python-dxf: the `test` extra of pyproject.toml) are installed. Defaults to python3.
#
# Idempotent and non-interactive: packages already present are left alone, and apt's
# package lists are refreshed only when something is missing.
set -euo pipefail
# shellcheck source=.ci/debs.sh
source "$(dirname "$0")/debs.sh"

debs=(
    skopeo podman buildah umoci containerd
    # podman/buildah runtime pieces: OCI runtime, user namespaces, networking stubs
    crun runc uidmap slirp4netns conmon
    ca-certificates
)

install_debs install-interop "${debs[@]}"

py="${1:-python3}"
if [[ -d "$py" ]]; then
    py="$py/bin/python"
fi

for tool in skopeo podman buildah umoci ctr containerd; do
    printf 'install-interop: %-10s %s\n' "$tool" "$("$tool" --version 2>&1 | head -n 1)"
done
"$py" -c 'import importlib.metadata as m; print("install-interop: oras", m.version("oras"), "python-dxf", m.version("python-dxf"))'
