#!/usr/bin/env bash
# Run `modelrail pr-report` from the action's inputs (passed as environment variables).
set -euo pipefail

work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/modelrail-report.XXXXXX")"
printf '%s' "$GATE_REPORT" > "$work/gate.json"
args=(pr-report --gate "$work/gate.json")
if [ -n "$MODEL" ]; then args+=(--model "$MODEL"); fi
if [ -n "$METRICS_DIFF" ]; then
  printf '%s' "$METRICS_DIFF" > "$work/diff.json"
  args+=(--metrics-diff "$work/diff.json")
fi
if [ -n "$BASE_SHA" ]; then args+=(--base-sha "$BASE_SHA"); fi
if [ "$COMMENT" != "true" ]; then args+=(--no-comment); fi
if [ "$FAIL_ON_REJECT" = "true" ]; then args+=(--exit-with-gate); fi
modelrail "${args[@]}"
