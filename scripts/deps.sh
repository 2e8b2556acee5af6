#!/bin/sh
# Installs (Debian packages) and runs glassbox's data stores as local processes
# on 127.0.0.1, for the integration tests, CI and the native stack:
#   PostgreSQL 15 (database glassbox, user glassbox/glassbox)
#   RabbitMQ: AMQP, management UI and Prometheus endpoint
# on the ports of deploy/ports.env (POSTGRES_PORT, RABBITMQ_*_PORT). They are
# not the defaults on purpose, so a PostgreSQL or RabbitMQ the machine already
# runs is never touched. Data lives in $GLASSBOX_STATE_DIR. `install` also
# brings Debian's Chromium, the real browser of the storefront page's test.
set -eu

usage() {
  cat <<'TXT'
usage: scripts/deps.sh <command> [postgres|rabbitmq]

  install   apt-get install the packages that are missing (needs root)
  start     start them (idempotent) and wait until each answers
  stop      stop what this script started
  status    say what runs
  env       print the environment variables that point services at them
  run CMD   start both, then run CMD with those variables set
TXT
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/deploy/ports.env"
STATE="${GLASSBOX_STATE_DIR:-/var/tmp/glassbox}"
# GLASSBOX_PG_PORT, GLASSBOX_AMQP_PORT and GLASSBOX_AMQP_DIST_PORT override the table.
PG_PORT="${GLASSBOX_PG_PORT:-$POSTGRES_PORT}"
AMQP_PORT="${GLASSBOX_AMQP_PORT:-$RABBITMQ_AMQP_PORT}"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
PG_DATA="$STATE/postgres"
MQ_BASE="$STATE/rabbitmq"
MQ_NODE="glassbox@localhost"

say() { printf 'deps: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# PostgreSQL refuses to run as root; RabbitMQ's wrapper switches users itself.
as_user() {
  user=$1; shift
  # From /, which every user may enter (the caller's folder may be private).
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}

wait_for() {
  what=$1; tries=$2; shift 2
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -ge "$tries" ] && die "$what did not come up; see its log: $3"
    sleep 1
  done
}

install() {
  missing=""
  [ -n "$PG_BIN" ] || missing="$missing postgresql"
  command -v rabbitmq-server >/dev/null 2>&1 || missing="$missing rabbitmq-server"
  # The real browser of the storefront page's end-to-end test (driven by playwright-core).
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  [ -z "$missing" ] && { say "packages already installed"; return; }
  [ "$(id -u)" = 0 ] || die "installing$missing needs root (apt-get)"
  say "installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  # The packages start their own default instances; ours run beside them on
  # other ports, so the defaults are stopped to save memory.
  service rabbitmq-server stop >/dev/null 2>&1 || true
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
}

pg_running() { [ -n "$PG_BIN" ] && as_user postgres "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

start_postgres() {
  [ -n "$PG_BIN" ] || die "PostgreSQL is not installed: run scripts/deps.sh install"
  if pg_running; then say "postgres already running on $PG_PORT"; return; fi
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    say "initialising PostgreSQL in $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
    # initdb reads the superuser's password from a file, never from its
    # command line. mktemp makes the file private (600); it is handed to the
    # postgres user, not opened to everyone.
    pwfile=$(mktemp)
    echo glassbox >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_user postgres "$PG_BIN/initdb" -D "$PG_DATA" -U glassbox --pwfile="$pwfile" -A scram-sha-256 >/dev/null
    rm -f "$pwfile"
  fi
  as_user postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 30 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA" start >/dev/null ||
    die "PostgreSQL did not start; see $PG_DATA/server.log"
  wait_for PostgreSQL 30 pg_running "$PG_DATA/server.log"
  if ! PGPASSWORD=glassbox psql -h 127.0.0.1 -p "$PG_PORT" -U glassbox -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'glassbox'" | grep -q 1; then
    PGPASSWORD=glassbox psql -h 127.0.0.1 -p "$PG_PORT" -U glassbox -d postgres -qc 'CREATE DATABASE glassbox'
  fi
  say "postgres ready on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  if pg_running; then
    as_user postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    say "postgres stopped"
  fi
}

mq_env() {
  # rabbitmq-server and rabbitmqctl read these; they keep our node apart from the package's.
  export RABBITMQ_NODENAME="$MQ_NODE"
  export RABBITMQ_MNESIA_BASE="$MQ_BASE/mnesia"
  export RABBITMQ_LOG_BASE="$MQ_BASE/log"
  export RABBITMQ_CONFIG_FILE="$MQ_BASE/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$MQ_BASE/enabled_plugins"
  export RABBITMQ_PID_FILE="$MQ_BASE/rabbitmq.pid"
  export RABBITMQ_DIST_PORT="${GLASSBOX_AMQP_DIST_PORT:-$RABBITMQ_DIST_PORT}"
}

mq_running() { mq_env; rabbitmqctl -q -n "$MQ_NODE" await_startup --timeout 2 >/dev/null 2>&1; }

start_rabbitmq() {
  command -v rabbitmq-server >/dev/null 2>&1 || die "RabbitMQ is not installed: run scripts/deps.sh install"
  mq_env
  if mq_running; then say "rabbitmq already running on $AMQP_PORT"; return; fi
  mkdir -p "$MQ_BASE/log" "$MQ_BASE/mnesia"
  # It holds a password: private (600) from the moment it is created.
  (umask 077 && cat >"$MQ_BASE/rabbitmq.conf") <<CONF
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $RABBITMQ_PROMETHEUS_PORT
default_user = glassbox
default_pass = glassbox
loopback_users = none
CONF
  chmod 600 "$MQ_BASE/rabbitmq.conf" # a copy an older version left readable to all
  echo '[rabbitmq_management,rabbitmq_prometheus].' >"$MQ_BASE/enabled_plugins"
  [ "$(id -u)" = 0 ] && chown -R rabbitmq:rabbitmq "$MQ_BASE"
  nohup rabbitmq-server >"$MQ_BASE/log/stdout.log" 2>&1 &
  i=0
  until mq_running; do
    i=$((i + 1))
    [ "$i" -ge 60 ] && die "RabbitMQ did not come up; see $MQ_BASE/log/"
    sleep 1
  done
  say "rabbitmq ready on 127.0.0.1:$AMQP_PORT (management on $RABBITMQ_MANAGEMENT_PORT)"
}

stop_rabbitmq() {
  if mq_running; then
    rabbitmqctl -q -n "$MQ_NODE" stop >/dev/null 2>&1 || true
    say "rabbitmq stopped"
  fi
}

print_env() {
  cat <<ENV
export DB_HOST=127.0.0.1 DB_PORT=$PG_PORT DB_USER=glassbox DB_PASSWORD=glassbox DB_NAME=glassbox
export AMQP_URL=amqp://glassbox:glassbox@127.0.0.1:$AMQP_PORT
ENV
}

command=${1:-}
which=${2:-all}
case "$command" in
  install) install ;;
  start)
    case "$which" in postgres) start_postgres ;; rabbitmq) start_rabbitmq ;; all) start_postgres; start_rabbitmq ;; *) usage; exit 2 ;; esac ;;
  stop)
    case "$which" in postgres) stop_postgres ;; rabbitmq) stop_rabbitmq ;; all) stop_rabbitmq; stop_postgres ;; *) usage; exit 2 ;; esac ;;
  status)
    if pg_running; then echo "postgres: running on $PG_PORT"; else echo "postgres: stopped"; fi
    if mq_running; then echo "rabbitmq: running on $AMQP_PORT"; else echo "rabbitmq: stopped"; fi ;;
  env) print_env ;;
  run)
    shift
    [ "$#" -gt 0 ] || { usage; exit 2; }
    start_postgres
    start_rabbitmq
    eval "$(print_env)"
    exec "$@" ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
