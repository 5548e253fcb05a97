#!/usr/bin/env bash
# What the ops tests (tests/ops) need beyond the pip test extra (hadolint, build):
# systemd-analyze to verify the unit file, and a Python base image for building the Dockerfile
# offline. No container registry is reachable here, so the base image is made from Debian's
# packages with debootstrap (python3, python3-venv, and this machine's CA certificates, which pip
# inside the build needs) and kept as a root filesystem tarball that the container test imports
# into its private podman storage.
#
# Usage: .ci/install-ops.sh
# Idempotent and non-interactive: nothing is done for what is there already.
set -euo pipefail

base_tar=${DOCKYARD_BASE_ROOTFS:-/var/cache/dockyard-ci/debian-bookworm-python3.tar}

missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v runc >/dev/null || missing+=(runc)
if ((${#missing[@]})); then
    echo "install-ops: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -s "$base_tar" ]; then
    echo "install-ops: base image root filesystem at $base_tar already"
    exit 0
fi
echo "install-ops: making the base image root filesystem $base_tar (debootstrap, about 2 minutes)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
mkdir -p "$(dirname "$base_tar")"
tar -C "$work/rootfs" -cf "$base_tar.partial" .
mv "$base_tar.partial" "$base_tar"
