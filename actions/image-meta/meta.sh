#!/usr/bin/env bash
# Run `modelrail image-meta` from the action's inputs (passed as environment variables).
set -euo pipefail

if [ -n "${INPUT_TRACKING_URI:-}" ]; then export MLFLOW_TRACKING_URI="$INPUT_TRACKING_URI"; fi
if [ -n "${INPUT_TRACKING_TOKEN:-}" ]; then export MLFLOW_TRACKING_TOKEN="$INPUT_TRACKING_TOKEN"; fi

args=(image-meta --config "$CONFIG" --version "$VERSION")
if [ -n "$IMAGE" ]; then args+=(--image "$IMAGE"); fi
modelrail "${args[@]}"
