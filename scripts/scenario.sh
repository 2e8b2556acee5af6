#!/bin/sh
# Switches a fault scenario on or off at runtime, without restarting anything.
# Each scenario lives in one service, behind its /admin/faults endpoint, which
# answers only to the ADMIN_TOKEN bearer token. This script keeps no list of
# scenarios: it asks every service which faults it can play, so a fault added
# to a service needs no change here. The story of each one, and how to find
# its cause, is in docs/scenarios/<name>.md.
set -eu

usage() {
  cat <<'TXT'
usage: npm run scenario -- list [--compose]
       npm run scenario -- <name> on|off [--compose]

  list          every fault the running services can play, and whether it is on
  <name> on     switches the fault on, in whichever service plays it
  <name> off    switches it off

The services answer for themselves (GET /admin/faults); what each scenario
breaks and how to find the cause: docs/scenarios/README.md.

Native stack: the services' management ports of deploy/ports.env on 127.0.0.1 and the
token in .stack/admin-token; ADMIN_TOKEN in the environment overrides it.
--compose: the request is made from inside each service's container
(docker compose exec), with the token file compose gave it (ADMIN_TOKEN_FILE).
TXT
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/deploy/ports.env"

SERVICES="gateway users products orders notifications"

# /admin/faults lives on each service's management port, not on the one that takes traffic.
management_port_of() {
  case "$1" in
    gateway) echo "$GATEWAY_MANAGEMENT_PORT" ;;
    users) echo "$USERS_MANAGEMENT_PORT" ;;
    products) echo "$PRODUCTS_MANAGEMENT_PORT" ;;
    orders) echo "$ORDERS_MANAGEMENT_PORT" ;;
    notifications) echo "$NOTIFICATIONS_MANAGEMENT_PORT" ;;
  esac
}

# One admin request, made by node's fetch (here, or inside the container).
# argv: method, path, port, body; an empty port means the MANAGEMENT_PORT of
# the environment it runs in (the container's). The token comes from the
# ADMIN_TOKEN variable or from the file ADMIN_TOKEN_FILE names (as the
# services read it), never from the command line, where `ps` would show it.
# Prints the reply; exit 4 when the service has no /admin/faults (it plays no
# fault), 1 on any other failure, with the reason on stderr.
REQUEST_JS='
const [method, path, port, body] = process.argv.slice(1);
const token = process.env.ADMIN_TOKEN || require("node:fs").readFileSync(process.env.ADMIN_TOKEN_FILE, "utf8").trim();
fetch(`http://127.0.0.1:${port || process.env.MANAGEMENT_PORT}${path}`, {
  method,
  body: body || undefined,
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  signal: AbortSignal.timeout(5000),
}).then(
  async (reply) => {
    const text = await reply.text();
    if (reply.ok) process.stdout.write(text);
    else process.stderr.write(`answered ${reply.status}: ${text}\n`);
    process.exit(reply.ok ? 0 : reply.status === 404 ? 4 : 1);
  },
  (error) => {
    process.stderr.write(`did not answer: ${error.cause?.message ?? error.message}\n`);
    process.exit(1);
  },
);'

# The JSON list of GET /admin/faults as lines: "<name> on|off <description>".
FAULT_LINES_JS='
let text = "";
process.stdin.on("data", (chunk) => (text += chunk));
process.stdin.on("end", () => {
  for (const fault of JSON.parse(text)) {
    console.log(`${fault.name} ${fault.enabled ? "on" : "off"} ${fault.description ?? ""}`);
  }
});'

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
[ "$#" -gt 0 ] || { usage >&2; exit 2; }

# Native stack: the token stays in its file (or in ADMIN_TOKEN, if you set
# one); the request helper reads it there, so this script never holds it.
if ! $compose && [ -z "${ADMIN_TOKEN:-}" ]; then
  export ADMIN_TOKEN_FILE="$ROOT/.stack/admin-token"
  [ -r "$ADMIN_TOKEN_FILE" ] || { echo "scenario: no ADMIN_TOKEN and no readable .stack/admin-token (is the native stack up?)" >&2; exit 1; }
fi

# request SERVICE METHOD PATH [BODY]
request() {
  if $compose; then
    docker compose exec -T "$1" node -e "$REQUEST_JS" "$2" "$3" "" "${4:-}"
  else
    node -e "$REQUEST_JS" "$2" "$3" "$(management_port_of "$1")" "${4:-}"
  fi
}

# faults SERVICE: its faults as "<name> on|off <description>" lines; none if
# it plays no fault. Fails (naming the service) if it does not answer.
faults() {
  if reply=$(request "$1" GET /admin/faults 2>"$errors"); then
    printf '%s' "$reply" | node -e "$FAULT_LINES_JS"
  elif [ $? -ne 4 ]; then
    echo "scenario: $1 $(cat "$errors")" >&2
    return 1
  fi
}

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

case "${1:-}" in
  list)
    silent=""
    for service in $SERVICES; do
      lines=$(faults "$service") || { silent="$silent $service"; continue; }
      [ -z "$lines" ] && continue
      printf '%s\n' "$lines" | while read -r name state description; do
        printf '%-14s %-18s %-4s %s\n' "$service" "$name" "$state" "$description"
      done
    done
    [ -z "$silent" ] || { echo "scenario: could not ask:$silent" >&2; exit 1; } ;;
  *)
    name=$1
    case "${2:-}" in
      on) enabled=true ;;
      off) enabled=false ;;
      *) echo "scenario: say on or off after the name" >&2; usage >&2; exit 2 ;;
    esac
    known="" silent=""
    for service in $SERVICES; do
      lines=$(faults "$service") || { silent="$silent $service"; continue; }
      if printf '%s\n' "$lines" | cut -d' ' -f1 | grep -qxF "$name"; then
        printf '%s: ' "$service"
        request "$service" PUT "/admin/faults/$name" "{\"enabled\":$enabled}"
        echo
        exit 0
      fi
      known="$known $(printf '%s\n' "$lines" | cut -d' ' -f1 | tr '\n' ' ')"
    done
    # shellcheck disable=SC2086
    echo "scenario: no service plays a fault named '$name'; known: $(echo $known)" >&2
    [ -z "$silent" ] || echo "scenario: could not ask:$silent" >&2
    exit 2 ;;
esac
