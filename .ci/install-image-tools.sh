#!/usr/bin/env bash
# Install the tools the image tests (tests/image) use: buildah (vfs storage, chroot isolation),
# skopeo, the Debian docker-registry and debootstrap (for the local base image).
# Idempotent: does nothing when every tool is already on PATH. Needs root (or sudo) and apt.
set -euo pipefail

PACKAGES=(buildah skopeo docker-registry debootstrap)
# debootstrap verifies the Debian Release signature with this keyring (a Recommends only).
EXTRA_PACKAGES=(debian-archive-keyring)
# Binary each package provides; used to decide whether anything is missing.
BINARIES=(buildah skopeo docker-registry debootstrap)

missing=()
for i in "${!PACKAGES[@]}"; do
  if ! command -v "${BINARIES[$i]}" >/dev/null 2>&1; then
    missing+=("${PACKAGES[$i]}")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-image-tools: all present ($(buildah --version | head -n1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-image-tools: installing ${missing[*]}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" "${EXTRA_PACKAGES[@]}" >/dev/null
# docker-registry's package starts a system service on :5000 where an init system runs;
# the tests start their own instance on a free loopback port, so stop that one if it runs.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi
echo "install-image-tools: done in $(( $(date +%s) - start ))s ($(buildah --version | head -n1))"
