#!/usr/bin/env bash
# `modelrail canary run`, or (ABORT=true) `modelrail rollout abort` + `modelrail rollback`
# + `modelrail rollout restore`, from the action's inputs (environment variables; see
# action.yml). The logic is scripts/canary-common.sh, shared with the GitLab component.
set -euo pipefail

scripts="$GITHUB_ACTION_PATH/../../scripts"
# shellcheck source=../../scripts/mlflow-inputs.sh
source "$scripts/mlflow-inputs.sh"
# shellcheck source=../../scripts/prometheus-inputs.sh
source "$scripts/prometheus-inputs.sh"
# shellcheck source=../../scripts/report-dir.sh
source "$scripts/report-dir.sh"
# shellcheck source=../../scripts/canary-common.sh
source "$scripts/canary-common.sh"

case "$ABORT" in
  true|false) ;;
  *) echo "::error title=canary-step::input abort must be true or false"; exit 2 ;;
esac
canary_rollout_args

if [ "$ABORT" = "true" ]; then
  rc=0
  canary_abort || rc=$?
  exit "$rc"
fi

if [ -z "$IMAGE" ]; then
  echo "::error title=canary-step::input image is required (REPO@sha256:...)"
  exit 2
fi
prepare_report_dir modelrail-canary-report
canary_run "$report_dir"
