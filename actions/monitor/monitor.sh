#!/usr/bin/env bash
# `modelrail monitor` (a breach is an output, not a failure: the calling workflow rolls
# back, reports, then fails), or (ISSUE=true) `modelrail monitor-issue`.
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"
# shellcheck source=../../scripts/report-dir.sh
source "$GITHUB_ACTION_PATH/../../scripts/report-dir.sh"
# shellcheck source=../../scripts/engine-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/engine-inputs.sh"

case "$ISSUE" in
  true|false) ;;
  *) echo "::error title=monitor::input issue must be true or false"; exit 2 ;;
esac

if [ "$ISSUE" = "true" ]; then
  if [ -z "$MARKDOWN" ]; then
    echo "::error title=monitor::input markdown is required with issue: true"
    exit 2
  fi
  body="${RUNNER_TEMP:-/tmp}/modelrail-monitor-issue-$$.md"
  printf '%s\n' "$MARKDOWN" > "$body"
  exec "$MODELRAIL" monitor-issue --config "$CONFIG" --markdown "$body"
fi

if [ -z "$REFERENCE" ]; then
  echo "::error title=monitor::input reference is required"
  exit 2
fi
if [ -n "$POSTGRES_DSN" ] && { [ -n "$CURRENT" ] || [ -n "$EVENTS" ]; }; then
  echo "::error title=monitor::inputs current and events are files; with postgres-dsn" \
    "the logs are the tables current-table and events-table"
  exit 2
fi
if [ -z "$CURRENT" ] && [ -z "$POSTGRES_DSN" ]; then
  echo "::error title=monitor::input current is required (or postgres-dsn with current-table)"
  exit 2
fi
prepare_report_dir modelrail-monitor-report
args=(monitor --config "$CONFIG" --reference "$REFERENCE"
      --json "$report_dir/monitor.json" --report "$report_dir/report.html"
      --markdown "$report_dir/report.md" --openmetrics "$report_dir/monitor.om" --summary)
if [ -n "$POSTGRES_DSN" ]; then
  args+=(--current-table "$CURRENT_TABLE")
  if [ -n "$EVENTS_TABLE" ]; then args+=(--events-table "$EVENTS_TABLE"); fi
else
  args+=(--current "$CURRENT")
  if [ -n "$EVENTS" ]; then args+=(--events "$EVENTS"); fi
fi
engine_flags
args+=("${engine_args[@]}")
rc=0
"$MODELRAIL" "${args[@]}" || rc=$?
# 1 = breach with action rollback: reported through the outputs, decided by the workflow.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then exit "$rc"; fi
