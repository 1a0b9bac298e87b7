#!/usr/bin/env bash
# Run `modelrail image-meta` from the action's inputs (passed as environment variables).
set -euo pipefail

# shellcheck source=../../scripts/mlflow-inputs.sh
source "$GITHUB_ACTION_PATH/../../scripts/mlflow-inputs.sh"

args=(image-meta --config "$CONFIG" --version "$VERSION")
if [ -n "$IMAGE" ]; then args+=(--image "$IMAGE"); fi
"$MODELRAIL" "${args[@]}"
