#!/bin/sh
# Installs the schema checkers that the fast tier runs over rendered
# Kubernetes objects (test/config/chart.test.ts):
#   kubernetes-validate  the PyPI package; ships the Kubernetes OpenAPI (JSON)
#                        schemas of every release up to its own inside the
#                        package, so `kubernetes-validate --strict -k 1.37.0 FILE`
#                        checks offline, no cluster needed
# It lives in a Python virtualenv cached outside the repository, one folder per
# version, so a second run is instant:
#   ${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}/kubernetes-validate-<version>/
# Helm itself is built by scripts/backends.sh (`install helm`).
set -eu

# --- Pinned versions --------------------------------------------------------
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes release whose schema the chart is checked against: the newest
# that this kubernetes-validate ships.
KUBERNETES_VERSION=1.37.0

usage() {
  cat <<'TXT'
usage: sh scripts/validators.sh <command>

  install    create the virtualenv with kubernetes-validate unless it is there;
             idempotent; prints where the command is
  paths      print `export KUBERNETES_VALIDATE_BIN=...`, for:
             eval "$(sh scripts/validators.sh paths)"
  versions   print the pinned versions as name=version lines (kubernetes is the
             schema release the chart is validated against)
  --help     this text

Needs python3 with its venv module, and the Python package index. Cache:
$GLASSBOX_CACHE, else $XDG_CACHE_HOME/glassbox, else ~/.cache/glassbox.
TXT
}

say() { printf 'validators: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

CACHE="${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}"
VENV="$CACHE/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
KUBERNETES_VALIDATE_BIN="$VENV/bin/kubernetes-validate"

install() {
  # A virtualenv's scripts name its interpreter by absolute path, so it is
  # created where it lives; the marker file, written last, says it is complete
  # (an interrupted install is started over).
  if [ ! -f "$VENV/.complete" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 is not installed (needed for kubernetes-validate)"
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION ..."
    rm -rf "$VENV" && mkdir -p "$CACHE"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >"$VENV/pip.log" 2>&1; then
      tail -n 20 "$VENV/pip.log" >&2
      die "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
    fi
    "$KUBERNETES_VALIDATE_BIN" --version >/dev/null 2>&1 || die "$KUBERNETES_VALIDATE_BIN does not run"
    touch "$VENV/.complete"
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION ... done"
  fi
  say "kubernetes-validate $KUBERNETES_VALIDATE_VERSION: $KUBERNETES_VALIDATE_BIN"
}

paths() {
  [ -f "$VENV/.complete" ] || say "KUBERNETES_VALIDATE_BIN: not installed yet (run: sh scripts/validators.sh install)"
  printf "export KUBERNETES_VALIDATE_BIN='%s'\n" "$KUBERNETES_VALIDATE_BIN"
}

versions() {
  printf 'kubernetes_validate=%s\nkubernetes=%s\n' "$KUBERNETES_VALIDATE_VERSION" "$KUBERNETES_VERSION"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  install) install ;;
  paths) paths ;;
  versions) versions ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
