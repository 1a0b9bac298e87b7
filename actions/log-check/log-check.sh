#!/usr/bin/env bash
# Run `modelrail log-check` from the action's inputs (passed as environment variables).
set -euo pipefail

case "$FAIL_ON_ERROR" in
  true|false) ;;
  *) echo "::error title=log-check::input fail-on-error must be true or false"; exit 2 ;;
esac
rc=0
"$MODELRAIL" log-check "--command=$LOG_COMMAND" "--artifact-path=$ARTIFACT_PATH" || rc=$?
if [ "$rc" -eq 1 ] && [ "$FAIL_ON_ERROR" = "false" ]; then
  exit 0
fi
exit "$rc"
