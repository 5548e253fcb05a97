#!/usr/bin/env bash
# Install the Docker engine the interoperability suite drives (tests/interop/docker.py): Debian's
# docker.io (dockerd 20.10, the docker CLI, docker-init) and the containerd it runs beside.
#
# Usage: .ci/install-docker.sh
#
# Idempotent and non-interactive: nothing is installed when the packages are present. The suite
# never uses a system Docker daemon (where the package starts one): it starts a private dockerd
# with its own data root, exec root, socket, pid file and containerd.
set -euo pipefail
# shellcheck source=.ci/debs.sh
source "$(dirname "$0")/debs.sh"

debs=(docker.io containerd runc tini util-linux)

install_debs install-docker "${debs[@]}"

for tool in dockerd docker containerd; do
    printf 'install-docker: %-10s %s\n' "$tool" "$("$tool" --version 2>&1 | head -n 1)"
done
