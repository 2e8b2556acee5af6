#!/bin/sh
# Builds the telemetry backends of the native stack with the Go toolchain:
#   otelcol              the OpenTelemetry Collector, from deploy/collector-builder.yaml
#   jaeger               Jaeger v2 (query API on :16686; its web UI is a placeholder)
#   prometheus, promtool Prometheus 3 (the API works; its web UI is not embedded)
#   helm                 Helm 3, which renders and lints charts/glassbox in the fast tier
#   telemetrygen         a synthetic OTLP load, for measuring the collector
#                        (docs/scaling.md); not built by default
# Binaries are cached outside the repository, one folder per name and version,
# so a second run is instant:
#   ${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}/<name>-<version>/
# The collector's folder also carries a checksum of its manifest: adding a
# component to deploy/collector-builder.yaml builds a new binary, at the same
# release, instead of reusing one that lacks it.
# The Go module and build caches live there too, so a version bump rebuilds
# quickly. The versions below are the single source of truth: docker-compose.yml
# must run the same ones (see `versions`).
set -eu

# --- Pinned versions --------------------------------------------------------
# Collector: core and contrib modules at one release; image
# otel/opentelemetry-collector-contrib:$OTELCOL_VERSION.
OTELCOL_VERSION=0.161.0
# Jaeger: image jaegertracing/jaeger:$JAEGER_VERSION. Its Go module has no /v2
# in its path, so v2 releases are published as v1.x module versions:
# Jaeger 2.13.0 is module version v1.76.0 (the last one the module proxy has).
JAEGER_VERSION=2.13.0
JAEGER_GOMOD=v1.76.0
# Prometheus: image prom/prometheus:v$PROMETHEUS_VERSION. Prometheus 3.NN.P is
# published as Go module version v0.3NN.P (computed below).
PROMETHEUS_VERSION=3.16.0
# Helm 3, built from its Go module (helm.sh/helm/v3/cmd/helm): only the tests
# use it, to lint and render charts/glassbox.
HELM_VERSION=3.22.0

usage() {
  cat <<'TXT'
usage: sh scripts/backends.sh <command>

  install [NAME...]  build what is missing (otelcol, jaeger, prometheus, helm:
                     the default; telemetrygen only when named) and print where
                     each binary is; idempotent
  paths              print `export OTELCOL_BIN=... JAEGER_BIN=... PROMETHEUS_BIN=...
                     PROMTOOL_BIN=... HELM_BIN=... TELEMETRYGEN_BIN=...` lines,
                     for: eval "$(sh scripts/backends.sh paths)"
  versions           print the pinned versions as name=version lines
  --help             this text

Needs Go and the Go module proxy, nothing else. Cache: $GLASSBOX_CACHE, else
$XDG_CACHE_HOME/glassbox, else ~/.cache/glassbox. A fresh build of the default
four takes about 17 minutes on 2 cores and leaves ~9 GB of Go caches (go/ and
go-build/ in the cache folder; `go clean -modcache -cache` with GOMODCACHE and
GOCACHE pointing there empties them). Remove a <name>-<version> folder to
rebuild that binary.
TXT
}

say() { printf 'backends: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}"

# 3.16.0 -> v0.316.0: minor number plus 300, patch unchanged.
prom_minor=${PROMETHEUS_VERSION#*.}
prom_minor=${prom_minor%%.*}
PROMETHEUS_GOMOD="v0.$((300 + prom_minor)).${PROMETHEUS_VERSION##*.}"

# The first number of POSIX cksum (a CRC) of the collector's manifest.
OTELCOL_MANIFEST_SUM=$(cksum <"$ROOT/deploy/collector-builder.yaml" | cut -d' ' -f1)
OTELCOL_BIN="$CACHE/otelcol-$OTELCOL_VERSION-$OTELCOL_MANIFEST_SUM/otelcol"
JAEGER_BIN="$CACHE/jaeger-$JAEGER_VERSION/jaeger"
PROMETHEUS_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/prometheus"
PROMTOOL_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/promtool"
HELM_BIN="$CACHE/helm-$HELM_VERSION/helm"
# telemetrygen is released with the collector: the same version.
TELEMETRYGEN_BIN="$CACHE/telemetrygen-$OTELCOL_VERSION/telemetrygen"

# Go settings for every build: caches under $CACHE, static binaries (no cgo),
# and GOWORK=off because the Prometheus module ships a go.work that names
# folders the module does not contain.
go_env() {
  export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go-build"
  export CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false
}

# Each build happens in a scratch folder and lands in its final folder with
# one `mv`, so an interrupted build never looks finished.
WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# run LOG CMD...: run a command with its output in LOG; show the end on failure.
run() {
  log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "failed: $*"
  fi
}

# module_dir MODULE@VERSION: download a module, print its folder.
module_dir() {
  run "$WORK/download.log" go mod download -json "$1"
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$WORK/download.log"
}

build_otelcol() {
  # The builder (ocb) of the same release generates a main package from the
  # manifest, resolves the modules and compiles (it strips symbols and uses
  # -trimpath by itself).
  run "$WORK/ocb-install.log" env GOBIN="$WORK/bin" go install -trimpath -ldflags='-s -w' \
    "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
  sed -e "s|@VERSION@|$OTELCOL_VERSION|g" -e "s|@OUTPUT@|$WORK/src|g" \
    "$ROOT/deploy/collector-builder.yaml" >"$WORK/manifest.yaml"
  run "$WORK/ocb.log" "$WORK/bin/builder" --config="$WORK/manifest.yaml"
  mkdir -p "$WORK/out" && cp "$WORK/src/otelcol" "$WORK/out/"
}

build_jaeger() {
  # `go install ...@version` refuses modules whose go.mod has `replace` lines,
  # and Jaeger's has one; building inside the downloaded module honours it and
  # uses exactly the dependency versions Jaeger released with.
  dir=$(module_dir "github.com/jaegertracing/jaeger@$JAEGER_GOMOD")
  mkdir -p "$WORK/out"
  (cd "$dir" && run "$WORK/build.log" go build -mod=readonly -trimpath -o "$WORK/out/jaeger" \
    -ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
    ./cmd/jaeger)
}

build_prometheus() {
  # Prometheus' own release build adds the `builtinassets` tag, which embeds
  # the web UI; the UI is compiled by npm and is not in the Go module, so that
  # tag cannot build here. Without it the API and promtool are complete.
  dir=$(module_dir "github.com/prometheus/prometheus@$PROMETHEUS_GOMOD")
  mkdir -p "$WORK/out"
  (cd "$dir" && run "$WORK/build.log" go build -mod=readonly -trimpath -tags netgo -o "$WORK/out/" \
    -ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    ./cmd/prometheus ./cmd/promtool)
}

build_helm() {
  # Helm's module has no `replace` lines, so `go install` builds it with the
  # dependency versions Helm released with. The version string is set the way
  # Helm's own release build sets it (`helm version` prints it).
  run "$WORK/build.log" env GOBIN="$WORK/out" go install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

build_telemetrygen() {
  run "$WORK/build.log" env GOBIN="$WORK/out" go install -trimpath -ldflags='-s -w' \
    "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v$OTELCOL_VERSION"
}

# install_one NAME VERSION BIN: build NAME unless BIN is already there.
install_one() {
  name=$1 version=$2 bin=$3
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || die "go is not installed (needed to build $name)"
    go_env
    mkdir -p "$CACHE"
    WORK=$(mktemp -d "$CACHE/.build-$name.XXXXXX")
    say "building $name $version ..."
    start=$(date +%s)
    "build_$name"
    dest=$(dirname "$bin")
    rm -rf "$dest" && mv "$WORK/out" "$dest"
    say "building $name $version ... done in $(($(date +%s) - start)) s"
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK" && WORK=""
  fi
  say "$name $version: $bin"
}

install() {
  [ $# -gt 0 ] || set -- otelcol jaeger prometheus helm
  for name in "$@"; do
    case $name in
      otelcol) install_one otelcol "$OTELCOL_VERSION" "$OTELCOL_BIN" ;;
      jaeger) install_one jaeger "$JAEGER_VERSION" "$JAEGER_BIN" ;;
      prometheus) install_one prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_BIN" ;;
      helm) install_one helm "$HELM_VERSION" "$HELM_BIN" ;;
      telemetrygen) install_one telemetrygen "$OTELCOL_VERSION" "$TELEMETRYGEN_BIN" ;;
      *) die "unknown backend '$name' (otelcol, jaeger, prometheus, helm, telemetrygen)" ;;
    esac
  done
}

paths() {
  for var in OTELCOL_BIN JAEGER_BIN PROMETHEUS_BIN PROMTOOL_BIN HELM_BIN TELEMETRYGEN_BIN; do
    eval "bin=\$$var"
    # telemetrygen is built only on request: no warning about it.
    [ -x "$bin" ] || [ "$var" = TELEMETRYGEN_BIN ] || say "$var: not built yet (run: sh scripts/backends.sh install)"
    printf "export %s='%s'\n" "$var" "$bin"
  done
}

versions() {
  printf 'otelcol=%s\njaeger=%s\njaeger_gomod=%s\nprometheus=%s\nprometheus_gomod=%s\nhelm=%s\n' \
    "$OTELCOL_VERSION" "$JAEGER_VERSION" "$JAEGER_GOMOD" "$PROMETHEUS_VERSION" "$PROMETHEUS_GOMOD" "$HELM_VERSION"
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
