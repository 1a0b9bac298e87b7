#!/usr/bin/env bash
# `modelrail canary run`, or (ABORT=true) `modelrail rollout abort` + `modelrail rollback`
# + `modelrail rollout restore`, from the action's inputs (environment variables; see
# action.yml). Each command reads the traffic backend from the policy (--config).
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"
# shellcheck source=../../scripts/prometheus-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/prometheus-inputs.sh"
# shellcheck source=../../scripts/report-dir.sh
source "$GITHUB_ACTION_PATH/../../scripts/report-dir.sh"

case "$ABORT" in
  true|false) ;;
  *) echo "::error title=canary-step::input abort must be true or false"; exit 2 ;;
esac

# The rollout: --name/--namespace when given, else the policy's rollout: section.
rollout=(--config "$CONFIG")
if [ -n "$ROLLOUT_NAME" ]; then rollout+=(--name "$ROLLOUT_NAME"); fi
if [ -n "$ROLLOUT_NAMESPACE" ]; then rollout+=(--namespace "$ROLLOUT_NAMESPACE"); fi

# A kubeconfig secret (raw YAML or base64) goes to a file only this user can read; it is
# never echoed, and the file is removed when this step ends.
if [ -n "$KUBECONFIG_SECRET" ]; then
  kubeconfig="${RUNNER_TEMP:-/tmp}/modelrail-kubeconfig-$$.yaml"
  trap 'rm -f "$kubeconfig"' EXIT
  (umask 077 && : > "$kubeconfig")
  if decoded="$(printf '%s' "$KUBECONFIG_SECRET" | tr -d ' \t\r\n' | base64 -d 2>/dev/null)" \
      && [[ "$decoded" == *:* ]]; then
    printf '%s\n' "$decoded" > "$kubeconfig"
  else
    printf '%s\n' "$KUBECONFIG_SECRET" > "$kubeconfig"
  fi
  unset decoded
  rollout+=(--kubeconfig "$kubeconfig")
fi

if [ "$ABORT" = "true" ]; then
  rc=0
  "$MODELRAIL" rollout abort "${rollout[@]}" || rc=$?
  if [ -n "$ROLLBACK_ENV" ]; then
    # --version: only if the environment still holds this version, so a re-run is a no-op.
    rolled_back=0
    "$MODELRAIL" rollback --config "$CONFIG" --env "$ROLLBACK_ENV" --version "$MODEL_VERSION" \
      --reason "${REASON:-canary of version $MODEL_VERSION did not pass}" || rolled_back=$?
    # A fully promoted rollout ignores the abort: serve the version the environment holds
    # now (set-image, promote --full, wait for Healthy); an aborted one is left as it is.
    if [ "$rolled_back" -eq 0 ]; then
      "$MODELRAIL" rollout restore "${rollout[@]}" --env "$ROLLBACK_ENV" || rc=$?
    else
      rc="$rolled_back"
    fi
  fi
  exit "$rc"
fi

if [ -z "$IMAGE" ]; then
  echo "::error title=canary-step::input image is required (REPO@sha256:...)"
  exit 2
fi
prepare_report_dir modelrail-canary-report
args=(canary run "${rollout[@]}" --image "$IMAGE" --version "$MODEL_VERSION"
      --report-dir "$report_dir" --json "$report_dir/canary.json"
      --openmetrics "$report_dir/canary.om" --summary)
if [ -n "$BASELINE_VERSION" ]; then args+=(--baseline-version "$BASELINE_VERSION"); fi
if [ -n "${PUSHGATEWAY_URL:-}" ]; then args+=(--pushgateway "$PUSHGATEWAY_URL"); fi
if [ -n "${PROMETHEUS_URL:-}" ]; then args+=(--prometheus-url "$PROMETHEUS_URL"); fi
"$MODELRAIL" "${args[@]}"
