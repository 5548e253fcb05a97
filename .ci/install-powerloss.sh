#!/usr/bin/env bash
# What the power-loss tests (tests/powerloss, tests/support/powercut.py) need beyond the pip test
# extra (mfusepy): libfuse 3, which mfusepy loads, and fusermount3, which unmounts a FUSE
# filesystem (and mounts one for a user that is not root). The kernel's FUSE module is the
# machine's: without /dev/fuse those tests are skipped with the reason.
#
# Usage: .ci/install-powerloss.sh
# Idempotent and non-interactive: nothing is done for what is there already.
set -euo pipefail
. "$(dirname "$0")/debs.sh"

install_debs install-powerloss libfuse3-3 fuse3
if [ -c /dev/fuse ]; then
    echo "install-powerloss: /dev/fuse present"
else
    echo "install-powerloss: no /dev/fuse on this machine: the power-loss tests will be skipped"
fi
