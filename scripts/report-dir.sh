# shellcheck shell=bash
# Sourced by the action scripts that write a report: `prepare_report_dir NAME` sets
# report_dir to the action's report-dir input (REPORT_DIR) or $RUNNER_TEMP/NAME, creates
# it, and announces it as the step output report-dir (so an upload step can find it even
# when the command then fails).
prepare_report_dir() {
  report_dir="${REPORT_DIR:-${RUNNER_TEMP:-/tmp}/$1}"
  mkdir -p "$report_dir"
  echo "report-dir=$report_dir" >> "$GITHUB_OUTPUT"
}
