#!/usr/bin/env bash
# Install the Debian `prometheus` package (prometheus + promtool) for the canary analysis
# tests (tests/integration/test_analysis_prometheus.py), which load history with
# `promtool tsdb create-blocks-from openmetrics` and query a real server.
# Idempotent: does nothing when both binaries are already on PATH. Needs root (or sudo) and apt.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "install-prometheus: present ($(prometheus --version 2>&1 | head -n1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-prometheus: installing prometheus"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts a system service on :9090 where an init system runs; the tests start
# their own server on a free loopback port, so stop that one if it runs.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus || true
fi
echo "install-prometheus: done in $(( $(date +%s) - start ))s ($(prometheus --version 2>&1 | head -n1))"
