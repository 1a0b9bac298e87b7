# shellcheck shell=bash
# Sourced by the action scripts: an action's mlflow-tracking-uri / mlflow-tracking-token
# inputs (passed as INPUT_TRACKING_URI / INPUT_TRACKING_TOKEN) override the job's MLflow
# environment when set, and leave it alone when empty.
if [ -n "${INPUT_TRACKING_URI:-}" ]; then export MLFLOW_TRACKING_URI="$INPUT_TRACKING_URI"; fi
if [ -n "${INPUT_TRACKING_TOKEN:-}" ]; then export MLFLOW_TRACKING_TOKEN="$INPUT_TRACKING_TOKEN"; fi
