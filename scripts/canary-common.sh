# shellcheck shell=bash
# Sourced by the canary step of both CI systems (actions/canary-step/canary.sh on GitHub,
# scripts/gitlab/canary*.sh on GitLab): the rollout's flags with the kubeconfig secret in a
# private file, the canary run, and the clean-up after a failed or cancelled one. Reads
# MODELRAIL (the CLI), CONFIG, ROLLOUT_NAME, ROLLOUT_NAMESPACE, KUBECONFIG_SECRET, IMAGE,
# MODEL_VERSION, BASELINE_VERSION, PUSHGATEWAY_URL, PROMETHEUS_URL, ROLLBACK_ENV, REASON.

# Sets the array `rollout`: --config, then --name/--namespace when given (else the policy's
# rollout: section), and --kubeconfig for a secret (raw YAML or base64) written to a file
# only this user can read; it is never echoed, and the file is removed when the shell exits.
canary_rollout_args() {
  rollout=(--config "$CONFIG")
  if [ -n "$ROLLOUT_NAME" ]; then rollout+=(--name "$ROLLOUT_NAME"); fi
  if [ -n "$ROLLOUT_NAMESPACE" ]; then rollout+=(--namespace "$ROLLOUT_NAMESPACE"); fi
  if [ -z "$KUBECONFIG_SECRET" ]; then return 0; fi
  kubeconfig="$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelrail-kubeconfig.XXXXXXXXXX")"
  trap 'rm -f "$kubeconfig"' EXIT
  local decoded
  if decoded="$(printf '%s' "$KUBECONFIG_SECRET" | tr -d ' \t\r\n' | base64 -d 2>/dev/null)" \
      && [[ "$decoded" == *:* ]]; then
    printf '%s\n' "$decoded" > "$kubeconfig"
  else
    printf '%s\n' "$KUBECONFIG_SECRET" > "$kubeconfig"
  fi
  rollout+=(--kubeconfig "$kubeconfig")
}

# `modelrail canary run` with the report (HTML, charts, canary.json, canary.om) in $1.
canary_run() {
  local report_dir="$1"
  local args=(canary run "${rollout[@]}" --image "$IMAGE" --version "$MODEL_VERSION"
              --report-dir "$report_dir" --json "$report_dir/canary.json"
              --openmetrics "$report_dir/canary.om" --summary)
  if [ -n "$BASELINE_VERSION" ]; then args+=(--baseline-version "$BASELINE_VERSION"); fi
  if [ -n "${PUSHGATEWAY_URL:-}" ]; then args+=(--pushgateway "$PUSHGATEWAY_URL"); fi
  if [ -n "${PROMETHEUS_URL:-}" ]; then args+=(--prometheus-url "$PROMETHEUS_URL"); fi
  "$MODELRAIL" "${args[@]}"
}

# The clean-up: abort the rollout (idempotent), roll ROLLBACK_ENV's alias back if it still
# holds MODEL_VERSION (so a re-run is a no-op), and then serve the version it holds now: a
# fully promoted rollout ignores the abort, so `rollout restore` sets the image, promotes
# in full and waits for Healthy; an aborted one is left as it is. Returns the first failure.
canary_abort() {
  local rc=0 rolled_back=0
  "$MODELRAIL" rollout abort "${rollout[@]}" || rc=$?
  if [ -z "$ROLLBACK_ENV" ]; then return "$rc"; fi
  "$MODELRAIL" rollback --config "$CONFIG" --env "$ROLLBACK_ENV" --version "$MODEL_VERSION" \
    --reason "${REASON:-canary of version $MODEL_VERSION did not pass}" || rolled_back=$?
  if [ "$rolled_back" -ne 0 ]; then return "$rolled_back"; fi
  "$MODELRAIL" rollout restore "${rollout[@]}" --env "$ROLLBACK_ENV" || rc=$?
  return "$rc"
}
