#!/usr/bin/env bash
# The gate job of templates/mr-check: install modelrail, judge the evaluation artifact
# against the policy and the champion. Exits 0 on a verdict either way (the report job
# fails the check on a rejection) and with the gate's own code when it could not judge
# (2 configuration, 3 MLflow unreachable); the exit code and the error reach the report
# job through the dotenv report (MODELRAIL_OUT_EXIT_CODE, MODELRAIL_OUT_ERROR).
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project_dir="$PWD"  # a job starts in the project's directory (CI_PROJECT_DIR on GitLab)
case "$MODELRAIL_CHAMPION" in
  registry) extras=mlflow ;;
  none) extras="" ;;
  *) echo "modelrail-gate: input champion must be registry or none (got '$MODELRAIL_CHAMPION')" >&2
     exit 2 ;;
esac
cli_file="$(mktemp)"
MODELRAIL_CLI_FILE="$cli_file" bash "$source_dir/scripts/install-modelrail.sh" "$extras"
modelrail="$(cat "$cli_file")"

out="$project_dir/modelrail-gate"
mkdir -p "$out"
# The dotenv report the template declares (artifacts: reports: dotenv: modelrail-gate.env).
export MODELRAIL_DOTENV="$project_dir/modelrail-gate.env"
: > "$MODELRAIL_DOTENV"
args=(gate --config "$MODELRAIL_MODEL_DIR/$MODELRAIL_GATE_CONFIG"
      --candidate "$MODELRAIL_MODEL_DIR/$MODELRAIL_METRICS_FILE"
      --json "$out/gate.json" --code-quality "$project_dir/gl-code-quality-report.json"
      --junit "$project_dir/modelrail-junit.xml")
if [ "$MODELRAIL_CHAMPION" = registry ]; then args+=(--champion-model); fi
if [ -n "$MODELRAIL_TRACKING_URI" ]; then export MLFLOW_TRACKING_URI="$MODELRAIL_TRACKING_URI"; fi

rc=0
(cd "$project_dir/modelrail-evaluation/model" && "$modelrail" "${args[@]}") || rc=$?
echo "MODELRAIL_OUT_EXIT_CODE=$rc" >> "$MODELRAIL_DOTENV"
if [ "$rc" -le 1 ]; then
  mkdir -p "$project_dir/modelrail-status" && touch "$project_dir/modelrail-status/gate"
  exit 0
fi
exit "$rc"
