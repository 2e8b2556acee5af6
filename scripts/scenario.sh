#!/bin/sh
# Switches a fault scenario on or off at runtime, without restarting anything.
# Each scenario lives in one service, behind its /admin/faults endpoint, which
# answers only to the ADMIN_TOKEN bearer token. The story of each one, and how
# to find its cause, is in docs/scenarios/<name>.md.
set -eu

usage() {
  cat <<'TXT'
usage: npm run scenario -- <name> on|off [--compose]
       npm run scenario -- list [--compose]

  slow-sql           users: GET /users/:id waits 400 ms inside its SQL query
  error-burst        users: about 30% of GET /users/:id fail with a 500
  n-plus-one         orders: GET /orders?userId= loads items with one query per order
  stalled-consumer   notifications: each order.created message waits 3 s
  event-loop-block   products: GET /products blocks the event loop for 150 ms

Native stack: the services' ports on 127.0.0.1 and the token in .stack/admin-token.
--compose: the request is made from inside the service's container
(docker compose exec), whose ADMIN_TOKEN is the one compose gave it.
ADMIN_TOKEN in the environment overrides the token file.
TXT
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/deploy/ports.env"

service_of() {
  case "$1" in
    slow-sql | error-burst) echo "users $USERS_PORT" ;;
    n-plus-one) echo "orders $ORDERS_PORT" ;;
    stalled-consumer) echo "notifications $NOTIFICATIONS_PORT" ;;
    event-loop-block) echo "products $PRODUCTS_PORT" ;;
    *) return 1 ;;
  esac
}

compose=false
args=""
for arg in "$@"; do
  case "$arg" in
    --compose) compose=true ;;
    -h | --help) usage; exit 0 ;;
    *) args="$args $arg" ;;
  esac
done
# shellcheck disable=SC2086
set -- $args

# request SERVICE PORT METHOD PATH [BODY]
request() {
  service=$1 port=$2 method=$3 path=$4 body=${5:-}
  if $compose; then
    # Inside the container: node's fetch, the token from the container's own environment.
    docker compose exec -T "$service" node -e '
      const [method, path, body] = process.argv.slice(1);
      fetch(`http://127.0.0.1:${process.env.PORT}${path}`, {
        method, body: body || undefined,
        headers: { authorization: `Bearer ${process.env.ADMIN_TOKEN}`, "content-type": "application/json" },
        signal: AbortSignal.timeout(5000),
      }).then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); },
              (e) => { console.error(e.message); process.exit(1); });' "$method" "$path" "$body"
    return
  fi
  token=${ADMIN_TOKEN:-$(cat "$ROOT/.stack/admin-token" 2>/dev/null || true)}
  [ -n "$token" ] || { echo "scenario: no ADMIN_TOKEN and no .stack/admin-token (is the native stack up?)" >&2; exit 1; }
  if [ -n "$body" ]; then
    curl -fsS --max-time 5 -X "$method" -H "authorization: Bearer $token" -H 'content-type: application/json' \
      --data "$body" "http://127.0.0.1:$port$path"
  else
    curl -fsS --max-time 5 -X "$method" -H "authorization: Bearer $token" "http://127.0.0.1:$port$path"
  fi
  echo
}

case "${1:-}" in
  list)
    for service_port in "users $USERS_PORT" "orders $ORDERS_PORT" "notifications $NOTIFICATIONS_PORT" "products $PRODUCTS_PORT"; do
      # shellcheck disable=SC2086
      request $service_port GET /admin/faults
    done ;;
  "") usage; exit 2 ;;
  *)
    name=$1
    target=$(service_of "$name") || { echo "scenario: unknown scenario '$name'" >&2; usage >&2; exit 2; }
    case "${2:-}" in
      on) enabled=true ;;
      off) enabled=false ;;
      *) echo "scenario: say on or off after the name" >&2; usage >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086
    request $target PUT "/admin/faults/$name" "{\"enabled\":$enabled}" ;;
esac
