#!/usr/bin/env bash
# Install what the benchmark harness needs. Idempotent: safe to run again.
#   - the peer registry (CNCF Distribution 2.8.2 from Debian) and the load tools wrk, ab, hey
#   - the harness's Python dependencies into the project's venv (or $PYTHON)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"

need=()
for pkg in docker-registry wrk apache2-utils hey; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Debian enables and starts a system registry on :5000 with the package; the harness runs its own
# instances, so leave that one alone but do not depend on it either.

"$python" -m pip install -q -r "$here/requirements.txt"
echo "bench: docker-registry $(/usr/bin/docker-registry --version | awk '{print $NF}'), wrk, ab, hey, python deps ready"
