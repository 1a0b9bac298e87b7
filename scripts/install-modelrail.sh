#!/usr/bin/env bash
# Install the modelrail CLI from this checkout into a venv under $RUNNER_TEMP and put it
# on PATH for later steps. Usage: install-modelrail.sh [EXTRAS]   (e.g. "mlflow,k8s")
#
# Idempotent: a second call with extras already installed does nothing, so every
# composite action can call it without paying the install twice in one job.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelrail-venv"
installed="$venv/.modelrail-extras"
python="${MODELRAIL_PYTHON:-python3}"
uv_version="0.13.9"

already_installed() {
  [ -x "$venv/bin/modelrail" ] || return 1
  [ "$(cat "$venv/.modelrail-source" 2>/dev/null)" = "$source_dir" ] || return 1
  local extra
  for extra in ${extras//,/ }; do
    grep -qxF "$extra" "$installed" 2>/dev/null || return 1
  done
}

if already_installed; then
  echo "modelrail already installed in $venv (extras: ${extras:-none})"
else
  start=$(date +%s)
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  if ! "$venv/bin/python" -m uv --version >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
  fi
  all_extras="$( { cat "$installed" 2>/dev/null || true; tr ',' '\n' <<<"$extras"; } \
    | sed '/^$/d' | sort -u)"
  spec="$source_dir"
  [ -z "$all_extras" ] || spec="$source_dir[$(paste -sd, <<<"$all_extras")]"
  "$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python" "$spec"
  printf '%s\n' "$all_extras" > "$installed"
  printf '%s\n' "$source_dir" > "$venv/.modelrail-source"
  echo "installed modelrail (extras: ${extras:-none}) in $(( $(date +%s) - start ))s"
fi

# Only `modelrail` goes on PATH: the venv's own python must not shadow the job's python.
bin_dir="$venv-bin"
mkdir -p "$bin_dir"
ln -sf "$venv/bin/modelrail" "$bin_dir/modelrail"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >> "$GITHUB_PATH"; fi
version="$("$venv/bin/modelrail" version)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "version=$version" >> "$GITHUB_OUTPUT"; fi
echo "modelrail $version"
