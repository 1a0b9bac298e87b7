#!/usr/bin/env bash
# The job of templates/register: reproduce the model, gate it against the champion, log
# it and register the commit's model version with its lineage. Registering a commit that
# has a version returns that version. Every step's failure fails the job with its exit
# code (2 configuration, 3 MLflow unreachable); a rejected gate does not: the version is
# registered with validation_status=failed, which no promotion accepts.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project_dir="$PWD"  # a job starts in the project's directory (CI_PROJECT_DIR on GitLab)
out="$project_dir/modelrail-register"
mkdir -p "$out"
if [ -n "$MODELRAIL_TRACKING_URI" ]; then export MLFLOW_TRACKING_URI="$MODELRAIL_TRACKING_URI"; fi
cli_file="$(mktemp)"
MODELRAIL_CLI_FILE="$cli_file" bash "$source_dir/scripts/install-modelrail.sh" mlflow
modelrail="$(cat "$cli_file")"

cd "$MODELRAIL_MODEL_DIR"
python -m pip install --disable-pip-version-check -r "$MODELRAIL_REQUIREMENTS"
if [ -n "$MODELRAIL_DVC_REMOTE" ]; then dvc pull --allow-missing --remote "$MODELRAIL_DVC_REMOTE"; fi
dvc repro
if [ -n "$MODELRAIL_DVC_REMOTE" ]; then dvc push --remote "$MODELRAIL_DVC_REMOTE"; fi

# The gate's own outputs (its whole report among them) stay out of the dotenv report,
# which holds 20 variables and 5 KB at most; `gate-passed` is written below.
gate=0
env -u MODELRAIL_DOTENV "$modelrail" gate --config "$MODELRAIL_GATE_CONFIG" \
  --candidate "$MODELRAIL_METRICS_FILE" --champion-model --json "$out/gate.json" \
  --junit "$project_dir/modelrail-junit.xml" || gate=$?
if [ "$gate" -gt 1 ]; then exit "$gate"; fi

args=(register --config "$MODELRAIL_GATE_CONFIG" --gate-report "$out/gate.json"
      --json "$out/register.json")
if [ -n "$MODELRAIL_LOG_COMMAND" ]; then
  MODELRAIL_RUN_JSON="$(mktemp)"
  export MODELRAIL_RUN_JSON
  bash -euo pipefail -c "$MODELRAIL_LOG_COMMAND"
  run_id="$("$(dirname "$modelrail")/python" -c \
    'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$MODELRAIL_RUN_JSON")"
  args+=(--run-id "$run_id")
else
  args+=(--model-dir "$MODELRAIL_MODEL_PATH")
fi
if [ -f "$MODELRAIL_METRICS_FILE" ]; then args+=(--metrics "$MODELRAIL_METRICS_FILE"); fi
if [ -f params.yaml ]; then args+=(--params params.yaml); fi
if [ -f dvc.lock ]; then args+=(--dvc-lock dvc.lock); fi

# The dotenv report the template declares (artifacts: reports: dotenv: modelrail-register.env).
export MODELRAIL_DOTENV="$project_dir/modelrail-register.env"
: > "$MODELRAIL_DOTENV"
"$modelrail" "${args[@]}"
if [ "$gate" -eq 0 ]; then passed=true; else passed=false; fi
echo "MODELRAIL_OUT_GATE_PASSED=$passed" >> "$MODELRAIL_DOTENV"
