#!/usr/bin/env bash
# `modelrail shadow analyze` from the action's inputs (env variables). Its exit code is the
# step's: 0 passed, 1 a check failed, 2 bad input, 3 Prometheus (or PostgreSQL, Spark
# Connect) unreachable, 4 too few pairs (or none of VERSION): anything but a pass stops
# what comes after (fail closed).
set -euo pipefail

# shellcheck source=../../scripts/prometheus-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/prometheus-inputs.sh"
# shellcheck source=../../scripts/report-dir.sh
source "$GITHUB_ACTION_PATH/../../scripts/report-dir.sh"
# shellcheck source=../../scripts/engine-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/engine-inputs.sh"

if [ -n "$PREDICTIONS" ] && [ -n "$POSTGRES_DSN" ]; then
  echo "::error title=shadow-analyze::give one of the inputs predictions and postgres-dsn"
  exit 2
fi
if [ -z "$PREDICTIONS" ] && [ -z "$POSTGRES_DSN" ]; then
  echo "::error title=shadow-analyze::input predictions is required" \
    "(or postgres-dsn with predictions-table)"
  exit 2
fi
prepare_report_dir modelrail-shadow
args=(shadow analyze --config "$CONFIG" --json "$report_dir/shadow.json" --summary)
if [ -n "$POSTGRES_DSN" ]; then
  args+=(--predictions-table "$PREDICTIONS_TABLE")
else
  args+=(--predictions "$PREDICTIONS")
fi
engine_flags
args+=("${engine_args[@]}")
if [ -n "$VERSION" ]; then args+=(--version "$VERSION"); fi
if [ -n "${PROMETHEUS_URL:-}" ]; then args+=(--prometheus-url "$PROMETHEUS_URL"); fi
exec "$MODELRAIL" "${args[@]}"
