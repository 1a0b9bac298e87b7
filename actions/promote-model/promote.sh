#!/usr/bin/env bash
# Run `modelrail promote` or `modelrail rollback` from the action's inputs (env variables).
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"

for flag in FORCE ROLLBACK DRY_RUN; do
  case "${!flag}" in
    true|false) ;;
    *) echo "::error title=promote-model::input ${flag,,} must be true or false"; exit 2 ;;
  esac
done

if [ "$ROLLBACK" = "true" ] && [ "$DRY_RUN" = "true" ]; then
  echo "::error title=promote-model::dry-run applies to promotions, not to rollback"
  exit 2
fi
if [ "$ROLLBACK" = "true" ]; then
  args=(rollback --config "$CONFIG" --env "$TO_ENV")
else
  args=(promote --config "$CONFIG" --to "$TO_ENV")
  if [ -n "$VERSION" ]; then args+=(--version "$VERSION"); fi
  if [ -n "$FROM_ENV" ]; then args+=(--from "$FROM_ENV"); fi
  if [ "$FORCE" = "true" ]; then args+=(--force); fi
  if [ "$DRY_RUN" = "true" ]; then args+=(--dry-run); fi
fi
if [ -n "$REASON" ]; then args+=(--reason "$REASON"); fi
"$MODELRAIL" "${args[@]}"
