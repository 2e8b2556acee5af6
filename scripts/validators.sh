#!/bin/sh
# Installs the schema checkers that the fast tier runs:
#   kubernetes-validate  over rendered Kubernetes objects (test/config/chart.test.ts):
#                        the PyPI package; ships the Kubernetes OpenAPI (JSON)
#                        schemas of every release up to its own inside the
#                        package, so `kubernetes-validate --strict -k 1.37.0 FILE`
#                        checks offline, no cluster needed
#   compose-check        over docker-compose.yml (test/config/compose-load.test.ts):
#                        deploy/compose-check, a small Go program that loads the
#                        file with compose-go, the loader of `docker compose`
#                        itself (interpolation, schema, consistency), no Docker
# Both are cached outside the repository, one folder per version, so a second
# run is instant:
#   ${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}/kubernetes-validate-<version>/
#   ${GLASSBOX_CACHE:-...}/compose-check-<compose-go version>-<checksum>/
# compose-check's folder also carries a checksum of its sources (*.go, go.mod,
# go.sum): editing the program builds a new binary instead of reusing a stale
# one. Helm itself is built by scripts/backends.sh (`install helm`).
set -eu

# --- Pinned versions --------------------------------------------------------
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes release whose schema the chart is checked against: the newest
# that this kubernetes-validate ships.
KUBERNETES_VERSION=1.37.0
# compose-go: pinned in deploy/compose-check/go.mod (the one place; read below).

usage() {
  cat <<'TXT'
usage: sh scripts/validators.sh <command>

  install [NAME...]  install what is missing (kubernetes-validate, compose-check:
                     the default is both); idempotent; prints where each is
  paths              print `export KUBERNETES_VALIDATE_BIN=... COMPOSE_CHECK_BIN=...`
                     lines, for: eval "$(sh scripts/validators.sh paths)"
  versions           print the pinned versions as name=version lines (kubernetes
                     is the schema release the chart is validated against)
  --help             this text

kubernetes-validate needs python3 with its venv module, and the Python package
index; compose-check needs Go and the Go module proxy. Cache: $GLASSBOX_CACHE,
else $XDG_CACHE_HOME/glassbox, else ~/.cache/glassbox (the Go caches are the
ones scripts/backends.sh uses there). Remove a folder to reinstall that tool.
TXT
}

say() { printf 'validators: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}"
VENV="$CACHE/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
KUBERNETES_VALIDATE_BIN="$VENV/bin/kubernetes-validate"

COMPOSE_CHECK_SRC="$ROOT/deploy/compose-check"
COMPOSE_GO_VERSION=$(sed -n 's|^require github.com/compose-spec/compose-go/v2 v||p' "$COMPOSE_CHECK_SRC/go.mod")
[ -n "$COMPOSE_GO_VERSION" ] || die "no compose-go version in deploy/compose-check/go.mod"
# The first number of POSIX cksum (a CRC) of the program's sources and module
# files, as scripts/backends.sh does for the collector's manifest.
COMPOSE_CHECK_SUM=$(cd "$COMPOSE_CHECK_SRC" && cat ./*.go go.mod go.sum | cksum | cut -d' ' -f1)
COMPOSE_CHECK_BIN="$CACHE/compose-check-$COMPOSE_GO_VERSION-$COMPOSE_CHECK_SUM/compose-check"

# The build happens in a scratch folder and lands in its final folder with one
# `mv`, so an interrupted build never looks finished.
WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

install_kubernetes_validate() {
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

install_compose_check() {
  # The Go settings of scripts/backends.sh: module and build caches under
  # $CACHE (shared with its builds), a static binary. -mod=readonly: go.sum
  # must already name every module, so a build never edits the repository;
  # -buildvcs=false: the binary does not depend on the state of git.
  if [ ! -x "$COMPOSE_CHECK_BIN" ]; then
    command -v go >/dev/null 2>&1 || die "go is not installed (needed to build compose-check)"
    export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go-build"
    export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
    mkdir -p "$CACHE"
    WORK=$(mktemp -d "$CACHE/.build-compose-check.XXXXXX")
    say "building compose-check (compose-go $COMPOSE_GO_VERSION) ..."
    start=$(date +%s)
    mkdir -p "$WORK/out"
    if ! (cd "$COMPOSE_CHECK_SRC" && go build -trimpath -ldflags='-s -w' -o "$WORK/out/compose-check" .) \
      >"$WORK/build.log" 2>&1; then
      tail -n 40 "$WORK/build.log" >&2
      die "go build of deploy/compose-check failed"
    fi
    dest=$(dirname "$COMPOSE_CHECK_BIN")
    rm -rf "$dest" && mv "$WORK/out" "$dest"
    say "building compose-check (compose-go $COMPOSE_GO_VERSION) ... done in $(($(date +%s) - start)) s"
    rm -rf "$WORK" && WORK=""
  fi
  say "compose-check (compose-go $COMPOSE_GO_VERSION): $COMPOSE_CHECK_BIN"
}

install() {
  [ $# -gt 0 ] || set -- kubernetes-validate compose-check
  for name in "$@"; do
    case $name in
      kubernetes-validate) install_kubernetes_validate ;;
      compose-check) install_compose_check ;;
      *) die "unknown validator '$name' (kubernetes-validate, compose-check)" ;;
    esac
  done
}

paths() {
  [ -f "$VENV/.complete" ] || say "KUBERNETES_VALIDATE_BIN: not installed yet (run: sh scripts/validators.sh install)"
  printf "export KUBERNETES_VALIDATE_BIN='%s'\n" "$KUBERNETES_VALIDATE_BIN"
  [ -x "$COMPOSE_CHECK_BIN" ] || say "COMPOSE_CHECK_BIN: not built yet (run: sh scripts/validators.sh install)"
  printf "export COMPOSE_CHECK_BIN='%s'\n" "$COMPOSE_CHECK_BIN"
}

versions() {
  printf 'kubernetes_validate=%s\nkubernetes=%s\ncompose_go=%s\n' \
    "$KUBERNETES_VALIDATE_VERSION" "$KUBERNETES_VERSION" "$COMPOSE_GO_VERSION"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  install) install "$@" ;;
  paths) paths ;;
  versions) versions ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
