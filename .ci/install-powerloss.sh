#!/usr/bin/env bash
# What the power-loss tests (tests/powerloss, tests/support/powercut.py) need beyond the pip test
# extra (mfusepy): libfuse 2, which mfusepy loads (tests/support/powerfs.py says why version 2).
# The tests mount as root, with the mount system call itself, so no fusermount helper is needed;
# the kernel's FUSE device is the machine's: without /dev/fuse those tests are skipped, saying so.
#
# Usage: .ci/install-powerloss.sh
# Idempotent and non-interactive: nothing is done for what is there already.
set -euo pipefail
. "$(dirname "$0")/debs.sh"

install_debs install-powerloss libfuse2
if [ -c /dev/fuse ]; then
    echo "install-powerloss: /dev/fuse present"
else
    echo "install-powerloss: no /dev/fuse on this machine: the power-loss tests will be skipped"
fi
