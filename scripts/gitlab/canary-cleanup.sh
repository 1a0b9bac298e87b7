#!/usr/bin/env bash
# The after_script of templates/canary's job: when the job failed, was cancelled or timed
# out (CI_JOB_STATUS is not `success`) and the canary was not promoted, abort the rollout
# and roll the alias of MODELRAIL_ENVIRONMENT back (input rollback), as canary.yml's last
# step does on GitHub: nothing is left at a partial weight. A promoted canary (the dotenv
# report says so) is left alone even when a later command failed.
set -euo pipefail

dotenv_value() {  # MODELRAIL_OUT_$1 of the job's dotenv report; empty when not there
  if [ -f modelrail-canary.env ]; then sed -n "s/^MODELRAIL_OUT_$1=//p" modelrail-canary.env; fi
}
result="$(dotenv_value RESULT)"
failed_step="$(dotenv_value FAILED_STEP)"
if [ "${CI_JOB_STATUS:-}" = success ] || [ "$result" = promoted ]; then
  echo "modelrail-canary: the canary was promoted; nothing to clean up"
  exit 0
fi

# shellcheck source=canary-inputs.sh
source "$(dirname "${BASH_SOURCE[0]}")/canary-inputs.sh"
install_modelrail
canary_rollout_args
case "$failed_step" in
  "") where="" ;;
  0) where=" in the mirror phase" ;;
  *) where=" at the $failed_step% step" ;;
esac
REASON="canary of $IMAGE ended ${result:-${CI_JOB_STATUS:-failed}}$where"
cd "$MODELRAIL_MODEL_DIR"
in_section modelrail_cleanup "Abort the rollout and roll $MODELRAIL_ENVIRONMENT back" \
  canary_abort
