#!/usr/bin/env bash
# Install what the S3 tests (tests/s3, and the S3 backends of tests/http) need: Ceph's monitor,
# OSD and RADOS Gateway from Debian, which tests/support/ceph.py runs as a throwaway cluster.
#
# Usage: .ci/install-ceph.sh
# Idempotent and non-interactive: nothing is installed when every daemon and tool is on the PATH,
# and apt's lists are refreshed only then. No daemon is started or enabled here.
set -euo pipefail

tools=(ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool)
if [ "$(command -v "${tools[@]}" | wc -l)" -eq "${#tools[@]}" ]; then
    echo "install-ceph: Ceph already installed"
else
    echo "install-ceph: installing ceph-mon ceph-osd radosgw ceph-common"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
fi
radosgw --version | head -n 1 | sed 's/^/install-ceph: /'
