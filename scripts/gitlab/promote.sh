#!/usr/bin/env bash
# A job of templates/promote: move a model version into MODELRAIL_TO with
# `modelrail promote`, which refuses (exit 1) a version that did not pass the gate, one
# that skips an environment (exit 2) and anything it cannot check (exit 3). The version:
# MODELRAIL_VERSION (the dev job's `version` input), else the release the job before it
# handed on (MODELRAIL_OUT_ORIGIN_VERSION of a promotion, MODELRAIL_OUT_VERSION of
# registration), else none: `promote` then takes what the environment before holds.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project_dir="$PWD"  # a job starts in the project's directory (CI_PROJECT_DIR on GitLab)
mkdir -p "$project_dir/modelrail-promote"
if [ -n "$MODELRAIL_TRACKING_URI" ]; then export MLFLOW_TRACKING_URI="$MODELRAIL_TRACKING_URI"; fi
cli_file="$(mktemp)"
MODELRAIL_CLI_FILE="$cli_file" bash "$source_dir/scripts/install-modelrail.sh" mlflow
modelrail="$(cat "$cli_file")"

version="${MODELRAIL_VERSION:-${MODELRAIL_OUT_ORIGIN_VERSION:-${MODELRAIL_OUT_VERSION:-}}}"
args=(promote --config "$MODELRAIL_CONFIG" --to "$MODELRAIL_TO"
      --json "$project_dir/modelrail-promote/promote.json")
if [ -n "$version" ]; then args+=(--version "$version"); fi
if [ -n "$MODELRAIL_REASON" ]; then args+=(--reason "$MODELRAIL_REASON"); fi

# The dotenv report the template declares (artifacts: reports: dotenv: modelrail-promote.env).
export MODELRAIL_DOTENV="$project_dir/modelrail-promote.env"
: > "$MODELRAIL_DOTENV"
cd "$MODELRAIL_MODEL_DIR"
"$modelrail" "${args[@]}"
