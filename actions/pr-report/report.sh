#!/usr/bin/env bash
# Run `modelrail pr-report` from the action's inputs (passed as environment variables).
set -euo pipefail

work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/modelrail-report.XXXXXX")"
args=(pr-report)
if [ -n "$GATE_REPORT" ]; then
  printf '%s' "$GATE_REPORT" > "$work/gate.json"
  args+=(--gate "$work/gate.json")
fi
if [ -n "$GATE_EXIT_CODE" ]; then args+=("--gate-exit-code=$GATE_EXIT_CODE"); fi
if [ -n "$GATE_ERROR" ]; then args+=("--gate-error=$GATE_ERROR"); fi
if [ -n "$MLFLOW_URI" ]; then args+=("--mlflow-uri=$MLFLOW_URI"); fi
while IFS= read -r job; do
  if [ -n "$job" ]; then args+=("--job=$job"); fi
done <<< "$JOBS"
if [ "$LOG_CHECK_EXPECTED" = "true" ] || [ -n "$LOG_CHECK" ]; then
  printf '%s' "$LOG_CHECK" > "$work/log-check.json"  # empty: the check never reported
  args+=(--log-check "$work/log-check.json")
fi
if [ -n "$MODEL" ]; then args+=(--model "$MODEL"); fi
if [ -n "$METRICS_DIFF" ]; then
  printf '%s' "$METRICS_DIFF" > "$work/diff.json"
  args+=(--metrics-diff "$work/diff.json")
fi
if [ -n "$BASE_SHA" ]; then args+=(--base-sha "$BASE_SHA"); fi
if [ "$COMMENT" != "true" ]; then args+=(--no-comment); fi
if [ "$FAIL_ON_REJECT" = "true" ]; then args+=(--exit-with-gate); fi
"$MODELRAIL" "${args[@]}"
