#!/usr/bin/env bash
# The canary job of templates/canary, as promote.yml + canary.yml do it on GitHub:
#   1. the registry alias of MODELRAIL_ENVIRONMENT moves to the version (`modelrail
#      promote`; the version must hold the environment before it, as in any promotion);
#   2. `modelrail canary run`: the image rolled out step by step, each step judged by
#      Prometheus; the report in modelrail-canary-report/, the outputs (result,
#      failed-step, weight, baseline) in the dotenv report modelrail-canary.env;
#   3. passed: the version also moves to MODELRAIL_PROMOTE_AFTER (prod: @champion).
# A failure anywhere, or a cancelled job, is cleaned up by the job's after_script
# (canary-cleanup.sh): the rollout aborted, the alias rolled back.
set -euo pipefail

# shellcheck source=canary-inputs.sh
source "$(dirname "${BASH_SOURCE[0]}")/canary-inputs.sh"
if [ -z "$IMAGE" ] || [ -z "$MODEL_VERSION" ]; then
  echo "modelrail-canary: inputs image (REPO@sha256:...) and model-version are required" \
    "(got image '$IMAGE', model-version '$MODEL_VERSION')" >&2
  exit 2
fi
install_modelrail
mkdir -p "$report_dir"
: > "$dotenv"
canary_rollout_args
reason="${MODELRAIL_REASON:-canary of $IMAGE}"
cd "$MODELRAIL_MODEL_DIR"

# Only the canary run's outputs go to the dotenv report (GitLab takes at most 20 lines).
unset MODELRAIL_DOTENV
in_section modelrail_promote "Move $MODELRAIL_ENVIRONMENT to version $MODEL_VERSION" \
  "$MODELRAIL" promote --config "$CONFIG" --to "$MODELRAIL_ENVIRONMENT" \
  --version "$MODEL_VERSION" --reason "$reason"
export MODELRAIL_DOTENV="$dotenv"
in_section modelrail_canary "Canary of $IMAGE (version $MODEL_VERSION)" \
  canary_run "$report_dir"
unset MODELRAIL_DOTENV
if [ -n "$MODELRAIL_PROMOTE_AFTER" ]; then
  in_section modelrail_promote_after "Move $MODELRAIL_PROMOTE_AFTER to version $MODEL_VERSION" \
    "$MODELRAIL" promote --config "$CONFIG" --to "$MODELRAIL_PROMOTE_AFTER" \
    --version "$MODEL_VERSION" \
    --reason "canary of $IMAGE passed every step${MODELRAIL_REASON:+ ($MODELRAIL_REASON)}"
fi
