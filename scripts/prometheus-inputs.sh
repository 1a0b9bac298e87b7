# shellcheck shell=bash
# Sourced by the action scripts: an action's prometheus-url / prometheus-token inputs
# (passed as INPUT_PROMETHEUS_URL / INPUT_PROMETHEUS_TOKEN) override the job's Prometheus
# environment when set, and leave it alone when empty.
if [ -n "${INPUT_PROMETHEUS_URL:-}" ]; then export PROMETHEUS_URL="$INPUT_PROMETHEUS_URL"; fi
if [ -n "${INPUT_PROMETHEUS_TOKEN:-}" ]; then export PROMETHEUS_TOKEN="$INPUT_PROMETHEUS_TOKEN"; fi
