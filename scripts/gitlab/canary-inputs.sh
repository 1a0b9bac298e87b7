# shellcheck shell=bash
# Sourced by the canary job of templates/canary (scripts/gitlab/canary.sh, and its
# after_script, canary-cleanup.sh): the job's MODELRAIL_* variables (the component's
# inputs) under the names scripts/canary-common.sh reads, modelrail's install, and the
# files the job publishes. The job starts in the project's directory (CI_PROJECT_DIR),
# where the report folder and the dotenv report go.
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project_dir="$PWD"
report_dir="$project_dir/modelrail-canary-report"
dotenv="$project_dir/modelrail-canary.env"

IMAGE="$MODELRAIL_IMAGE"
MODEL_VERSION="$MODELRAIL_MODEL_VERSION"
BASELINE_VERSION="$MODELRAIL_BASELINE_VERSION"
ROLLOUT_NAME="$MODELRAIL_ROLLOUT_NAME"
ROLLOUT_NAMESPACE="$MODELRAIL_ROLLOUT_NAMESPACE"
CONFIG="$MODELRAIL_CONFIG"
PUSHGATEWAY_URL="$MODELRAIL_PUSHGATEWAY_URL"
INPUT_PROMETHEUS_URL="$MODELRAIL_PROMETHEUS_URL"
INPUT_TRACKING_URI="$MODELRAIL_TRACKING_URI"
case "$MODELRAIL_ROLLBACK" in
  true) ROLLBACK_ENV="$MODELRAIL_ENVIRONMENT" ;;
  false) ROLLBACK_ENV="" ;;
  *) echo "modelrail-canary: input rollback must be true or false (got '$MODELRAIL_ROLLBACK')" >&2
     exit 2 ;;
esac
# shellcheck source=../mlflow-inputs.sh
source "$source_dir/scripts/mlflow-inputs.sh"
# shellcheck source=../prometheus-inputs.sh
source "$source_dir/scripts/prometheus-inputs.sh"
# shellcheck source=../canary-common.sh
source "$source_dir/scripts/canary-common.sh"

# KUBECONFIG, a CI/CD variable: of type File (GitLab sets it to the path of a file holding
# the kubeconfig, which the Kubernetes client reads as it is; so does the GitLab agent's),
# or a masked variable holding the kubeconfig base64-encoded (masking needs one line),
# which goes to a private file and never into the environment of the commands.
KUBECONFIG_SECRET=""
if [ -n "${KUBECONFIG:-}" ] && [ ! -f "$KUBECONFIG" ]; then
  KUBECONFIG_SECRET="$KUBECONFIG"
  unset KUBECONFIG
fi

# Sets MODELRAIL: modelrail from this component's project, in a new venv
# (install-modelrail.sh), once the inputs were found usable.
install_modelrail() {
  local cli_file
  cli_file="$(mktemp)"
  MODELRAIL_CLI_FILE="$cli_file" bash "$source_dir/scripts/install-modelrail.sh" \
    kubernetes,mlflow
  MODELRAIL="$(cat "$cli_file")"
}

# Runs "$@" inside a section of the job log ("Custom collapsible sections" in GitLab's docs;
# the CLI's own are plumbing/log_sections.py), closed whatever it exits with; returns that.
in_section() {
  local name="$1" header="$2" rc=0
  shift 2
  printf '\033[0Ksection_start:%s:%s\r\033[0K%s\n' "$(date +%s)" "$name" "$header"
  "$@" || rc=$?
  printf '\033[0Ksection_end:%s:%s\r\033[0K\n' "$(date +%s)" "$name"
  return "$rc"
}
