#!/usr/bin/env bash
# Build a local image equivalent to python:3.11-slim from Debian's packages, for machines that
# cannot reach Docker Hub. Skipped when the image already exists.
#
#   tools/build-base-image.sh [TAG]        (default TAG: enginekit/base:py3.11)
#
# Then build engines with: docker build --build-arg BASE_IMAGE=enginekit/base:py3.11 ...
# Needs root, debootstrap and a running Docker daemon. MIRROR and SUITE may be overridden.
set -euo pipefail

tag=${1:-enginekit/base:py3.11}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
host_ca_bundle=/etc/ssl/certs/ca-certificates.crt

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "[base-image] $tag exists; nothing to do"
    exit 0
fi

root=$(mktemp -d /var/tmp/enginekit-base.XXXXXX)
cleanup() { rm -rf "$root"; }
trap cleanup EXIT

echo "[base-image] debootstrap $suite into $root"
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates \
    "$suite" "$root" "$mirror" >/dev/null

ln -sf python3 "$root/usr/bin/python"
# pip inside a build trusts what this host trusts (for example a proxy's CA).
cp "$host_ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* \
    "$root"/usr/share/man/*

echo "[base-image] importing as $tag"
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
echo "[base-image] built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
