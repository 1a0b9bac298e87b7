#!/usr/bin/env bash
# The system packages `make demo` and `make test` need, installed when missing.
#
#   bash scripts/install-system-packages.sh [--check] [demo|test]     (default: test)
#
# demo: Prometheus (+ promtool) for the canary stage, git, PostgreSQL (the aggregations
# pushed down to a warehouse) and Java 17 (Spark's local mode: `--engine spark`) for the
# monitor stage, npm and rsync for gitlab-ci-local (the GitLab stage and the GitLab
# components' tests; `make gitlab-ci-local`). test: also the Pushgateway
# (`--pushgateway`) and buildah, skopeo, docker-registry and debootstrap (+ Debian's
# archive keyring) for the serving-image build.
#
# On Debian/Ubuntu a missing package is installed with apt-get when this runs as root or
# with password-less sudo (`sudo -n`); `--check` never installs. Otherwise, and on macOS,
# it prints ONE message naming the missing packages and the command to run, and exits 1
# before anything else starts. Exit 2: usage error. Idempotent; bash 3.2 compatible
# (macOS). PYTHON (default python3) and VENV (default .venv) are the Makefile's: a
# Python 3.11+ with venv is checked too, as the one prerequisite that is not installed
# here. MODELRAIL_SYSTEM_ROOT prefixes the file paths looked at (for the tests).
set -euo pipefail

usage="usage: bash scripts/install-system-packages.sh [--check] [demo|test]"
mode=install target=test
for argument in "$@"; do
  case "$argument" in
    --check) mode=check ;;
    demo | test) target=$argument ;;
    *) echo "install-system-packages: unknown argument '$argument'; $usage" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
ROOT=${MODELRAIL_SYSTEM_ROOT:-}

# tool:debian-package:homebrew-formula ("-": none, the tool cannot run on macOS).
DEMO_TOOLS="prometheus:prometheus:prometheus promtool:prometheus:prometheus git:git:git
initdb:postgresql:postgresql@16 java:openjdk-17-jre-headless:openjdk@17 rsync:rsync:rsync
npm:npm:node"
TEST_TOOLS="$DEMO_TOOLS prometheus-pushgateway:prometheus-pushgateway:pushgateway
buildah:buildah:- skopeo:skopeo:- docker-registry:docker-registry:- debootstrap:debootstrap:-
debian-archive-keyring:debian-archive-keyring:-"
if [ "$target" = demo ]; then tools=$DEMO_TOOLS; else tools=$TEST_TOOLS; fi

have() {  # the tool is on PATH, or where Debian puts it
  case "$1" in
    initdb) command -v initdb >/dev/null 2>&1 ||
      compgen -G "$ROOT/usr/lib/postgresql/*/bin/initdb" >/dev/null ;;
    prometheus-pushgateway)  # Homebrew's formula installs it as `pushgateway`
      command -v prometheus-pushgateway >/dev/null 2>&1 || command -v pushgateway >/dev/null 2>&1 ;;
    debian-archive-keyring) [ -e "$ROOT/usr/share/keyrings/debian-archive-keyring.gpg" ] ;;
    python-venv) [ -x "$VENV/bin/python" ] || "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 || [ -x "$ROOT/usr/sbin/$1" ] ;;
  esac
}

add() {  # add a word to a space-separated list once
  case " $1 " in *" $2 "*) echo "$1" ;; *) echo "${1:+$1 }$2" ;; esac
}

scan() {  # sets the missing tools, their Debian packages, Homebrew formulas, Linux-only tools
  missing_tools="" debian="" brew="" mac_tools="" linux_only=""
  for entry in $tools; do
    tool=${entry%%:*} rest=${entry#*:}
    package=${rest%%:*} formula=${rest#*:}
    have "$tool" && continue
    missing_tools=$(add "$missing_tools" "$tool")
    debian=$(add "$debian" "$package")
    if [ "$formula" = - ]; then linux_only=$(add "$linux_only" "$tool"); continue; fi
    mac_tools=$(add "$mac_tools" "$tool")
    brew=$(add "$brew" "$formula")
  done
  if ! have python-venv; then
    missing_tools=$(add "$missing_tools" python-venv)
    debian=$(add "$debian" python3-venv)
  fi
}

python_problem() {  # the one prerequisite: empty when $PYTHON is 3.11 or newer
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "Python 3.11+ is required and '$PYTHON' was not found"
  elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    echo "Python 3.11+ is required and '$PYTHON' is older (run make with PYTHON=python3.11 or newer)"
  fi
}

macos_message() {
  local text="" keg=""
  if [[ " $brew " == *" postgresql@16 "* ]]; then
    keg=" (postgresql@16 is keg-only: then brew link --force postgresql@16)"
  fi
  if [ -n "$brew" ]; then
    text="\`make $target\` cannot start: missing on this Mac: ${mac_tools// /, }. Install with: brew install $brew$keg."
  fi
  if [ -n "$linux_only" ]; then
    text="${text:+$text }On macOS the serving-image tests (buildah, skopeo, docker-registry, debootstrap) cannot run: they need Linux, and are skipped."
  fi
  echo "$text"
}

linux_message() {
  local why=$1
  echo "\`make $target\` cannot start: missing ${missing_tools// /, } (Debian/Ubuntu packages: $debian)$why. Install them with:
    sudo apt-get install -y --no-install-recommends $debian
or run: sudo bash scripts/install-system-packages.sh $target"
}

stop() {  # the one message, then exit 1
  echo "install-system-packages: $1" >&2
  exit 1
}

problem=$(python_problem)
[ -z "$problem" ] || stop "\`make $target\` cannot start: $problem."
scan
if [ -z "$missing_tools" ]; then
  echo "install-system-packages: $target: all present"
  exit 0
fi
case "${OSTYPE:-}" in
  darwin*)
    if [ -z "$brew" ]; then
      echo "install-system-packages: $(macos_message)" >&2
      exit 0  # only the Linux-only image tools are missing: those tests skip
    fi
    stop "$(macos_message)" ;;
esac

SUDO="" why=""
if ! command -v apt-get >/dev/null 2>&1; then
  why=" and apt-get was not found (only Debian/Ubuntu are installed for)"
elif [ "$(id -u 2>/dev/null || echo unknown)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then SUDO="sudo -n"
  else why=" and this is neither root nor password-less sudo"; fi
fi
if [ "$mode" = check ] || [ -n "$why" ]; then stop "$(linux_message "$why")"; fi

echo "install-system-packages: installing $debian"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086  # $debian is a list of package names
$SUDO apt-get install -y -qq --no-install-recommends $debian >/dev/null
# Where an init system runs, these packages start system services on fixed ports; the
# tests start their own instances on free loopback ports.
if command -v systemctl >/dev/null 2>&1; then
  for service in prometheus docker-registry postgresql; do
    if systemctl is-active --quiet "$service" 2>/dev/null; then $SUDO systemctl stop "$service" || true; fi
  done
fi
scan
[ -z "$missing_tools" ] || stop "$(linux_message " after apt-get install")"
echo "install-system-packages: done in $((SECONDS - start))s"
