#!/usr/bin/env bash
# Install what the S3 tests (tests/s3, and the S3 backends of tests/http) need: Ceph's monitor,
# OSD and RADOS Gateway from Debian, which tests/support/ceph.py runs as a throwaway cluster.
#
# Usage: .ci/install-ceph.sh
# Idempotent and non-interactive: nothing is installed when the packages are there, and apt's
# lists are refreshed only when something is missing. No daemon is started or enabled here.
set -euo pipefail

debs=(ceph-mon ceph-osd radosgw ceph-common)

missing=()
for pkg in "${debs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "install-ceph: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-ceph: Debian packages already installed"
fi

for tool in ceph-mon ceph-osd radosgw; do
    printf 'install-ceph: %-8s %s\n' "$tool" "$("$tool" --version 2>&1 | head -n 1)"
done
