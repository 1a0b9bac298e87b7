#!/usr/bin/env bash
# Run `modelrail gate` from the action's inputs (passed as environment variables).
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"

args=(gate --config "$CONFIG" --candidate "$CANDIDATE" --json "${RUNNER_TEMP:-/tmp}/modelrail-gate.json")
case "$CHAMPION" in
  registry)
    if [ -n "$CHAMPION_MODEL" ]; then args+=(--champion-model "$CHAMPION_MODEL"); else args+=(--champion-model); fi ;;
  file)
    if [ -z "$CHAMPION_METRICS" ]; then
      echo "::error title=quality-gate::input champion-metrics is required when champion is 'file'"
      exit 2
    fi
    args+=(--champion "$CHAMPION_METRICS") ;;
  none) ;;
  *)
    echo "::error title=quality-gate::input champion must be registry, file or none (got '$CHAMPION')"
    exit 2 ;;
esac
if [ "$SUMMARY" = "false" ]; then args+=(--no-summary); fi
case "$FAIL_ON_REJECT" in
  true|false) ;;
  *) echo "::error title=quality-gate::input fail-on-reject must be true or false"; exit 2 ;;
esac

rc=0
"$MODELRAIL" "${args[@]}" || rc=$?
echo "exit-code=$rc" >> "$GITHUB_OUTPUT"
if [ "$rc" -eq 1 ] && [ "$FAIL_ON_REJECT" = "false" ]; then
  exit 0
fi
exit "$rc"
