#!/bin/sh
# The native stack: every glassbox component as a local process on 127.0.0.1,
# on the host ports docker compose publishes (deploy/ports.env), from the same
# config files. For CI and for Linux users without Docker.
#
#   PostgreSQL, RabbitMQ        scripts/deps.sh (Debian packages)
#   collector, Jaeger, Prometheus   scripts/backends.sh (built with Go, cached)
#   log sink                    stands in for Loki, which can not run here
#   gateway, users, products, orders, notifications   node --require the preload
#
# Logs: .stack/logs/<name>.log. PIDs: .stack/pids/<name>.pid.
set -eu

usage() {
  cat <<'TXT'
usage: scripts/stack.sh <command>

  up       build, start every component, wait until each is healthy, print the URLs
  down     stop exactly what `up` started (by pid), including PostgreSQL and
           RabbitMQ if `up` was the one that started them
  status   say what runs
TXT
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.stack"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
. "$ROOT/deploy/ports.env"
LOCAL=127.0.0.1
WAIT_SECONDS=${STACK_WAIT_SECONDS:-60}

say() { printf 'stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

running() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

# start NAME COMMAND...: runs it in the background with its log and pid file.
start() {
  name=$1; shift
  if running "$name"; then say "$name already running"; return; fi
  nohup "$@" >"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

# wait_healthy NAME URL: bounded wait for a 2xx, with a message naming the log.
wait_healthy() {
  name=$1; url=$2
  i=0
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    running "$name" || die "$name exited during start-up; see $LOGS/$name.log"
    i=$((i + 1))
    [ "$i" -ge "$WAIT_SECONDS" ] && die "$name did not become healthy at $url within ${WAIT_SECONDS}s; see $LOGS/$name.log"
    sleep 1
  done
  say "$name healthy ($url)"
}

service_env() {
  # What compose sets for a service, with 127.0.0.1 in place of DNS names.
  # These become `env` arguments, which `ps` shows to every user: no secret
  # among them (start_service adds the admin token's path, not the token).
  cat <<ENV
HOST=$LOCAL
USERS_URL=http://$LOCAL:$USERS_PORT
PRODUCTS_URL=http://$LOCAL:$PRODUCTS_PORT
ORDERS_URL=http://$LOCAL:$ORDERS_PORT
PRODUCTS_GRPC_ADDRESS=$LOCAL:$PRODUCTS_GRPC_PORT
GRPC_PORT=$PRODUCTS_GRPC_PORT
OTEL_EXPORTER_OTLP_ENDPOINT=http://$LOCAL:$COLLECTOR_OTLP_HTTP_PORT
BROWSER_OTLP_TRACES_URL=http://$LOCAL:$COLLECTOR_OTLP_HTTP_PORT/v1/traces
JAEGER_UI_URL=http://$LOCAL:$JAEGER_UI_PORT
OTEL_METRIC_EXPORT_INTERVAL=10000
OTEL_BSP_SCHEDULE_DELAY=1000
OTEL_BLRP_SCHEDULE_DELAY=1000
OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=native
ENV
}

start_service() {
  name=$1; port=$2; management=$3
  # Only the gateway takes outside traffic, so only it applies the edge trace
  # policy to the trace headers callers send (docs/edge.md).
  edge=""
  [ "$name" = gateway ] && edge="EDGE_TRACE_POLICY=continue"
  # --max-semi-space-size=4: see NODE_OPTIONS in docker-compose.yml.
  # Secrets stay off the command line: the admin token goes as the path of its
  # file (the kit reads NAME_FILE variables), the database password and the
  # AMQP URL are inherited from this script's environment (exported in `up`).
  # shellcheck disable=SC2046
  start "$name" env $(service_env) ADMIN_TOKEN_FILE="$STATE/admin-token" \
    PORT="$port" MANAGEMENT_PORT="$management" OTEL_SERVICE_NAME="$name" $edge \
    node --max-semi-space-size=4 --require @glassbox/telemetry/register "$ROOT/services/$name/dist/src/main.js"
}

up() {
  mkdir -p "$LOGS" "$PIDS"
  cd "$ROOT"
  . "$ROOT/scripts/node-env.sh"
  eval "$(sh "$ROOT/scripts/backends.sh" paths)"
  for bin in "$OTELCOL_BIN" "$JAEGER_BIN" "$PROMETHEUS_BIN"; do
    [ -x "$bin" ] || die "$bin is missing: run npm run stack:install first"
  done

  # PostgreSQL and RabbitMQ: remember whether we started them, so `down` stops only what we started.
  for dep in postgres rabbitmq; do
    if ! sh "$ROOT/scripts/deps.sh" status | grep -q "^$dep: running"; then
      sh "$ROOT/scripts/deps.sh" start "$dep"
      touch "$STATE/started-$dep"
    fi
  done
  eval "$(sh "$ROOT/scripts/deps.sh" env)"
  export DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME AMQP_URL

  # The token that opens /admin/faults (npm run scenario reads it from here):
  # mode 600 from the start, kept across runs.
  sh "$ROOT/scripts/secret-file.sh" "$STATE/admin-token"

  say "building"
  npm run --silent build >"$LOGS/build.log" 2>&1 || die "the build failed; see $LOGS/build.log"

  start log-sink env LOKI_PORT="$LOKI_PORT" HOST=$LOCAL node "$ROOT/test/dist/src/log-sink.js"
  start jaeger env JAEGER_BIND=$LOCAL JAEGER_OTLP_GRPC_PORT="$JAEGER_OTLP_GRPC_PORT" \
    JAEGER_OTLP_HTTP_PORT="$JAEGER_OTLP_HTTP_PORT" "$JAEGER_BIN" --config "$ROOT/deploy/jaeger.yaml"
  # Tail sampling keeps every trace here (TRACE_SAMPLING_PERCENT=100; set it to
  # try the default 10%): the end-to-end suite looks up the traces it made by id.
  start otel-collector env COLLECTOR_BIND=$LOCAL JAEGER_OTLP_ENDPOINT="$LOCAL:$JAEGER_OTLP_GRPC_PORT" \
    LOKI_OTLP_ENDPOINT="http://$LOCAL:$LOKI_PORT/otlp" TRACE_SAMPLING_PERCENT="${TRACE_SAMPLING_PERCENT:-100}" \
    "$OTELCOL_BIN" --config "$ROOT/otel-collector.yaml"

  # Jaeger keeps traces in memory only: metrics (and their exemplars) from an
  # earlier run would point at traces that are gone, so Prometheus starts empty too.
  rm -rf "$STATE/prometheus-data"
  # prometheus.yml names targets as compose does (users:8081); here they are
  # all on 127.0.0.1, and every port is unique, so the rewrite is mechanical.
  sed -E "s/(['\" ])(gateway|users|products|orders|notifications|otel-collector|rabbitmq|jaeger|localhost):([0-9]+)/\1$LOCAL:\3/g; s#^(\s*-\s*)rules/#\1$ROOT/prometheus/rules/#" \
    "$ROOT/prometheus/prometheus.yml" >"$STATE/prometheus.yml"
  start prometheus "$PROMETHEUS_BIN" --config.file="$STATE/prometheus.yml" \
    --storage.tsdb.path="$STATE/prometheus-data" --web.listen-address=$LOCAL:$PROMETHEUS_PORT \
    --enable-feature=exemplar-storage --storage.tsdb.retention.time=1d

  wait_healthy log-sink "http://$LOCAL:$LOKI_PORT/ready"
  wait_healthy jaeger "http://$LOCAL:$JAEGER_HEALTH_PORT/status"
  wait_healthy otel-collector "http://$LOCAL:$COLLECTOR_HEALTH_PORT/"
  wait_healthy prometheus "http://$LOCAL:$PROMETHEUS_PORT/-/ready"

  # Readiness is asked on each service's management port, as compose and Prometheus do.
  start_service users "$USERS_PORT" "$USERS_MANAGEMENT_PORT"
  start_service products "$PRODUCTS_PORT" "$PRODUCTS_MANAGEMENT_PORT"
  start_service notifications "$NOTIFICATIONS_PORT" "$NOTIFICATIONS_MANAGEMENT_PORT"
  wait_healthy users "http://$LOCAL:$USERS_MANAGEMENT_PORT/readyz"
  wait_healthy products "http://$LOCAL:$PRODUCTS_MANAGEMENT_PORT/readyz"
  start_service orders "$ORDERS_PORT" "$ORDERS_MANAGEMENT_PORT"
  wait_healthy orders "http://$LOCAL:$ORDERS_MANAGEMENT_PORT/readyz"
  wait_healthy notifications "http://$LOCAL:$NOTIFICATIONS_MANAGEMENT_PORT/readyz"
  start_service gateway "$GATEWAY_PORT" "$GATEWAY_MANAGEMENT_PORT"
  wait_healthy gateway "http://$LOCAL:$GATEWAY_MANAGEMENT_PORT/readyz"

  cat <<TXT

glassbox is up (native stack). Logs: $LOGS
  storefront   http://$LOCAL:$GATEWAY_PORT/  (open it first: place an order, follow its trace)
  gateway      http://$LOCAL:$GATEWAY_PORT/api/products
  Jaeger API   http://$LOCAL:$JAEGER_UI_PORT/api/services
  Prometheus   http://$LOCAL:$PROMETHEUS_PORT/api/v1/targets
  RabbitMQ     http://$LOCAL:$RABBITMQ_MANAGEMENT_PORT  (glassbox / glassbox)
  collector    OTLP http://$LOCAL:$COLLECTOR_OTLP_HTTP_PORT, own metrics http://$LOCAL:$COLLECTOR_METRICS_PORT/metrics
  log sink     http://$LOCAL:$LOKI_PORT  (stands in for Loki: selectors, label and line filters; see test/src/logql.ts)
Stop it with: npm run stack:down
TXT
}

down() {
  [ -d "$PIDS" ] || { say "nothing to stop"; return; }
  # Services first (they flush telemetry to the collector on SIGTERM), backends after.
  for name in gateway orders notifications products users prometheus otel-collector jaeger log-sink; do
    if running "$name"; then
      pid=$(cat "$PIDS/$name.pid")
      kill "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
      say "$name stopped"
    fi
    rm -f "$PIDS/$name.pid"
  done
  for dep in rabbitmq postgres; do
    if [ -f "$STATE/started-$dep" ]; then
      sh "$ROOT/scripts/deps.sh" stop "$dep"
      rm -f "$STATE/started-$dep"
    fi
  done
}

status() {
  for name in log-sink jaeger otel-collector prometheus users products notifications orders gateway; do
    if running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"))"; else echo "$name: stopped"; fi
  done
  sh "$ROOT/scripts/deps.sh" status
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
