#!/usr/bin/env bash
# Run `modelrail ab analyze` from the action's inputs (passed as environment variables).
# The decision is an output; only a broken input (2), an unreachable PostgreSQL (3) or,
# with fail-on-no-ship, a no-ship or invalid decision (1) fails the step. Keep running (4)
# is a normal state of a scheduled analysis.
set -euo pipefail

# shellcheck source=../../scripts/report-dir.sh
source "$GITHUB_ACTION_PATH/../../scripts/report-dir.sh"
# shellcheck source=../../scripts/engine-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/engine-inputs.sh"

fail() {
  echo "::error title=ab-test::$1"
  exit 2
}

prepare_report_dir modelrail-ab-test
args=(ab analyze --config "$CONFIG" --attribution-window "$ATTRIBUTION_WINDOW"
      --json "$report_dir/ab-test.json" --report "$report_dir/ab-test.html")
sources=0
if [ -n "$STATS" ]; then
  args+=(--stats "$STATS"); sources=$((sources + 1))
fi
if [ -n "$PREDICTIONS" ] || [ -n "$EVENTS" ]; then
  if [ -z "$PREDICTIONS" ] || [ -z "$EVENTS" ]; then
    fail "inputs predictions and events go together"
  fi
  args+=(--predictions "$PREDICTIONS" --events "$EVENTS"); sources=$((sources + 1))
fi
if [ -n "$POSTGRES_DSN" ]; then
  args+=(--predictions-table "$PREDICTIONS_TABLE" --events-table "$EVENTS_TABLE")
  sources=$((sources + 1))
fi
[ "$sources" -eq 1 ] || fail "give exactly one of: predictions + events, stats, postgres-dsn"
engine_flags
args+=("${engine_args[@]}")
if [ -n "$LOOKS" ]; then
  mkdir -p "$(dirname "$LOOKS")"
  args+=(--looks "$LOOKS")
fi
case "$FAIL_ON_NO_SHIP" in
  true|false) ;;
  *) fail "input fail-on-no-ship must be true or false" ;;
esac

rc=0
"$MODELRAIL" "${args[@]}" || rc=$?
echo "exit-code=$rc" >> "$GITHUB_OUTPUT"
if [ -n "$LOOKS" ] && [ -f "$LOOKS" ]; then
  cp "$LOOKS" "$report_dir/ab-test-looks.json"
fi
case "$rc" in
  0|4) exit 0 ;;
  1) if [ "$FAIL_ON_NO_SHIP" = "true" ]; then exit 1; fi; exit 0 ;;
  *) exit "$rc" ;;
esac
