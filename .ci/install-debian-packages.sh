#!/usr/bin/env bash
# The Debian packages the tests run for real: Prometheus (+ promtool) for the canary judge,
# PostgreSQL for the A/B aggregation pushed down to a warehouse, and buildah, skopeo,
# docker-registry and debootstrap for the serving-image build.
# Idempotent: installs only what is missing. Needs root (or sudo) and apt.
set -euo pipefail

# binary:package — a package is installed when its binary is not on PATH.
WANTED=(
  prometheus:prometheus
  promtool:prometheus
  buildah:buildah
  skopeo:skopeo
  docker-registry:docker-registry
  debootstrap:debootstrap
  pg_ctlcluster:postgresql
)
# debootstrap verifies the Release signature with this keyring (only a Recommends).
ALWAYS=(debian-archive-keyring)

missing=()
for pair in "${WANTED[@]}"; do
  binary="${pair%%:*}" package="${pair#*:}"
  if ! command -v "$binary" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-debian-packages: all present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-debian-packages: installing ${missing[*]}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" "${ALWAYS[@]}" >/dev/null
# Where an init system runs, these packages start system services on fixed ports; the
# tests start their own instances on free loopback ports.
if command -v systemctl >/dev/null 2>&1; then
  for service in prometheus docker-registry postgresql; do
    if systemctl is-active --quiet "$service" 2>/dev/null; then $SUDO systemctl stop "$service" || true; fi
  done
fi
echo "install-debian-packages: done in $(( $(date +%s) - start ))s"
