#!/usr/bin/env bash
# Install the modelrail CLI from this checkout into a fresh venv under $RUNNER_TEMP.
# Usage: install-modelrail.sh [EXTRAS]   (e.g. "kubernetes,mlflow")
#
# The venv is made from MODELRAIL_PYTHON (default python3), which must be Python 3.11 or
# newer. The actions pass the `python-path` of their own actions/setup-python step
# (`update-environment: false`), never the job's `python`: the model may run on an older
# Python, and whatever its steps installed stays out of modelrail's venv. The step output
# `modelrail` is the absolute path of the CLI, which the actions run; the job's PATH is
# left alone, unless MODELRAIL_ADD_TO_PATH=true (the top-level action, whose purpose is a
# `modelrail` command for the caller's own steps) puts that one command on it. On GitLab
# (templates/), MODELRAIL_CLI_FILE names a file that receives that path instead.
#
# Nothing is resolved in the job and nothing installs unless its hash matches: uv comes from
# requirements/uv.txt (pip --require-hashes), the dependencies from the lock for exactly the
# requested extras (requirements/<extras sorted, joined by +>.txt, or core.txt; uv
# --require-hashes), then modelrail itself with --no-deps, built by the hash-checked backend
# in requirements/build.txt. The locks are written by scripts/lock_requirements.py
# (`make locks`); extras without a lock stop the install (exit 2).
#
# Every call installs into a NEW directory with an unpredictable name (mktemp), and never
# reuses a venv it finds. Why not reuse one: anything already on the runner may have been
# written by code that ran earlier in the job (a pull request's `pip install` or
# `dvc repro`), and a venv at a fixed path, or one named by an environment variable, can be
# planted with a fake `modelrail` that would then run with the job's credentials. Checking
# a found venv by hash would have to cover its interpreter and every dependency too, which
# costs more than the install itself (uv installs from its cache in about two seconds).
# mktemp creates the directory exclusively (it fails rather than reuse a name), so nothing
# prepared in advance can stand in for it. This does not make a job that runs untrusted
# code safe for credentials: such code can also read the runner's memory; keep it in a job
# of its own (pr-test.yml does).
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
python="${MODELRAIL_PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install-modelrail.sh: MODELRAIL_PYTHON ($python) is not Python 3.11 or newer;" \
    "modelrail needs 3.11+ (the actions set it up with actions/setup-python)" >&2
  exit 2
fi
locks="$source_dir/requirements"
lock_name="$(printf '%s' "$extras" | tr ',' '\n' | LC_ALL=C sort -u | paste -sd+ -)"
lock="$locks/${lock_name:-core}.txt"
if [ ! -f "$lock" ]; then
  locked="$(cd "$locks" && ls -- *.txt | grep -v -x -e uv.txt -e build.txt -e core.txt \
    | sed -e 's/\.txt$//' -e 's/+/,/g' | paste -sd' ' -)"
  echo "install-modelrail.sh: extras '$extras' have no lock (${lock#"$source_dir/"});" \
    "the locked sets are \"\" (core) $locked" >&2
  exit 2
fi

start=$(date +%s)
venv="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelrail-venv.XXXXXXXXXX")"
# uv goes into the venv with the interpreter's own pip (`--python`, pip 22.3+): a venv
# without pip is made in a fraction of a second, where seeding one with ensurepip takes
# about six. An interpreter without a recent pip gets the seeded venv and uses its pip.
if "$python" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' \
    >/dev/null 2>&1; then
  "$python" -m venv --without-pip "$venv"
  pip=("$python" -m pip --python "$venv/bin/python")
else
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip)
fi
"${pip[@]}" install --quiet --disable-pip-version-check --require-hashes --no-deps \
  -r "$locks/uv.txt"
uv_pip=("$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python")
"${uv_pip[@]}" --require-hashes -r "$lock"
"${uv_pip[@]}" --no-deps --build-constraints "$locks/build.txt" --require-build-hashes \
  "$source_dir"
echo "installed modelrail (extras: ${extras:-none}) in $venv in $(( $(date +%s) - start ))s"

# On request, only `modelrail` goes on PATH: the venv's own python must not shadow the
# job's python. GITHUB_PATH entries are prepended, so this install wins over any earlier one.
if [ "${MODELRAIL_ADD_TO_PATH:-false}" = "true" ]; then
  bin_dir="$venv/path"
  mkdir "$bin_dir"
  ln -s "$venv/bin/modelrail" "$bin_dir/modelrail"
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >> "$GITHUB_PATH"; fi
fi
version="$("$venv/bin/modelrail" version)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "version=$version"; echo "modelrail=$venv/bin/modelrail"; } >> "$GITHUB_OUTPUT"
fi
# GitLab has no step outputs: the components name a file to receive the CLI's path.
if [ -n "${MODELRAIL_CLI_FILE:-}" ]; then echo "$venv/bin/modelrail" > "$MODELRAIL_CLI_FILE"; fi
echo "modelrail $version"
