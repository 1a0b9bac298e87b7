#!/usr/bin/env bash
# The report job of templates/mr-check: one sticky MR note and the check's verdict, from
# the artifacts of the jobs before it. A job that succeeded left its mark in
# modelrail-status/ (its artifacts are uploaded only then; the gate's always, with the
# mark only when it reached a verdict), so a missing mark names the job that did not.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project_dir="$PWD"  # a job starts in the project's directory (CI_PROJECT_DIR on GitLab)
cli_file="$(mktemp)"
MODELRAIL_CLI_FILE="$cli_file" bash "$source_dir/scripts/install-modelrail.sh" ""
modelrail="$(cat "$cli_file")"

status="$project_dir/modelrail-status"
evaluation="$project_dir/modelrail-evaluation"
gate="$project_dir/modelrail-gate/gate.json"
succeeded() { if [ -e "$status/$1" ]; then echo true; else echo false; fi; }

args=(pr-report --model "$MODELRAIL_MODEL_DIR" --exit-with-gate
      "--job=Model tests=$(succeeded test)"
      "--job=Reproduce and diff=$(succeeded evaluate)"
      "--job=Gate against the champion=$(succeeded gate)")
if [ -f "$gate" ]; then args+=(--gate "$gate"); fi
# The gate job's dotenv report: its exit code, and its error when it stopped.
if [ -n "${MODELRAIL_OUT_EXIT_CODE:-}" ]; then args+=("--gate-exit-code=$MODELRAIL_OUT_EXIT_CODE"); fi
if [ -n "${MODELRAIL_OUT_ERROR:-}" ]; then args+=("--gate-error=$MODELRAIL_OUT_ERROR"); fi
if [ -n "$MODELRAIL_TRACKING_URI" ]; then args+=("--mlflow-uri=$MODELRAIL_TRACKING_URI"); fi
if [ -f "$evaluation/metrics-diff.json" ]; then
  args+=(--metrics-diff "$evaluation/metrics-diff.json" --base-sha "$(cat "$evaluation/base-sha")")
fi
if [ "$MODELRAIL_COMMENT" != "true" ] || [ -z "${CI_MERGE_REQUEST_IID:-}" ]; then
  args+=(--no-comment)
fi
"$modelrail" "${args[@]}"
