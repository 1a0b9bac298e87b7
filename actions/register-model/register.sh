#!/usr/bin/env bash
# Run `modelrail register` from the action's inputs (passed as environment variables).
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"

args=(register --config "$CONFIG" --artifact-path "$ARTIFACT_PATH")
if [ -n "$RUN_ID" ] && [ -n "$MODEL_DIR" ]; then
  echo "::error title=register-model::give run-id or model-dir, not both"
  exit 2
elif [ -n "$RUN_ID" ]; then
  args+=(--run-id "$RUN_ID")
elif [ -n "$MODEL_DIR" ]; then
  args+=(--model-dir "$MODEL_DIR")
else
  echo "::error title=register-model::input run-id or model-dir is required"
  exit 2
fi
if [ -n "$GATE_REPORT" ]; then
  report="$(mktemp "${RUNNER_TEMP:-/tmp}/modelrail-gate.XXXXXX")"
  printf '%s' "$GATE_REPORT" > "$report"
  args+=(--gate-report "$report")
fi
if [ -f "$METRICS_FILE" ]; then args+=(--metrics "$METRICS_FILE"); fi
if [ -f "$PARAMS_FILE" ]; then args+=(--params "$PARAMS_FILE"); fi
if [ -f "$DVC_LOCK" ]; then args+=(--dvc-lock "$DVC_LOCK"); fi
"$MODELRAIL" "${args[@]}"
