#!/usr/bin/env bash
# Install what the identity tests (tests/identity) need: Debian's OpenLDAP server and tools, run by
# the tests as a throwaway directory on 127.0.0.1, and Debian's Node.js with a pinned OpenID
# Provider (oidc-provider) installed into tests/identity/provider/node_modules.
#
# Usage: .ci/install-identity.sh
#
# Idempotent and non-interactive: nothing is installed when it is already there. slapd's package
# sets up a system directory and service of its own; the tests never use them (they start slapd
# as a child process on a directory of their own), so the service is stopped and left disabled.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/debs.sh

export DEBIAN_FRONTEND=noninteractive
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
install_debs install-identity slapd ldap-utils
if command -v node >/dev/null && command -v npm >/dev/null; then
    echo "install-identity: node and npm already installed"
else
    install_debs install-identity nodejs npm
fi
if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
    systemctl stop slapd
fi

provider=tests/identity/provider
if [[ -f $provider/node_modules/oidc-provider/package.json ]]; then
    echo "install-identity: oidc-provider already installed"
else
    echo "install-identity: installing oidc-provider"
    npm ci --prefix "$provider" --no-audit --no-fund --loglevel=error
fi
echo "install-identity: slapd $(/usr/sbin/slapd -VV 2>&1 | head -n 1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -n 1)," \
    "node $(node --version), oidc-provider $(node -p "require('./$provider/node_modules/oidc-provider/package.json').version")"
