#!/usr/bin/env bash
# Install the PostgreSQL 15 server the metadata tests start throwaway clusters of
# (tests/support/postgres.py): Debian's package. The tests never use its default cluster.
#
# Usage: .ci/install-postgres.sh
# Idempotent and non-interactive: nothing is done when the server binaries are there already.
set -euo pipefail

if ! dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q '^install ok installed$'; then
    echo "install-postgres: installing postgresql-15"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends postgresql-15
else
    echo "install-postgres: postgresql-15 already installed"
fi
/usr/lib/postgresql/15/bin/postgres --version | sed 's/^/install-postgres: /'
