#!/usr/bin/env bash
# Run `modelrail analyze` once from the action's inputs (environment variables).
set -euo pipefail

# shellcheck source=../../scripts/prometheus-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/prometheus-inputs.sh"
case "$FAIL_ON_REJECT" in
  true|false) ;;
  *) echo "::error title=prometheus-check::input fail-on-reject must be true or false"; exit 2 ;;
esac

report="${RUNNER_TEMP:-/tmp}/modelrail-analysis-$$.json"
echo "report-path=$report" >> "$GITHUB_OUTPUT"
args=(analyze --config "$CONFIG" --canary "$CANARY_VERSION" --baseline "$BASELINE_VERSION"
      --json "$report")
if [ -n "$WINDOW" ]; then args+=(--window "$WINDOW"); fi

rc=0
"$MODELRAIL" "${args[@]}" || rc=$?
if [ "$FAIL_ON_REJECT" = "false" ] && { [ "$rc" -eq 1 ] || [ "$rc" -eq 4 ]; }; then
  exit 0
fi
exit "$rc"
