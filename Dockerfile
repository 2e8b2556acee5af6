# syntax=docker/dockerfile:1
#
# One image for every glassbox service. It holds all of them; the command
# picks which one runs (docker-compose.yml sets it per service):
#
#   docker run ... glassbox services/users/dist/src/main.js
#
# Two stages. `build` has the whole repository, the dev dependencies and the
# TypeScript compiler; the final stage receives only what runs: the compiled
# dist/src of each shipped workspace, the files they read beside it, and the
# production dependencies. test/integration/image-contents.integration.ts
# reproduces the final stage outside Docker (it runs the commands below) and
# starts a service from the result.
#
# Both stages use the Node that the tests use (scripts/node-env.sh), pinned to
# an exact tag.

# --- build: compile everything, then gather what ships ----------------------
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
# .dockerignore keeps node_modules, dist and other local output out, so the
# build starts from the sources and the lockfile only.
COPY . .
# The cache mount keeps npm's download cache between builds (in no layer);
# --prefer-offline uses what it holds without asking the registry again (the
# lockfile pins every version anyway).
RUN --mount=type=cache,target=/var/cache/npm npm ci --cache /var/cache/npm --prefer-offline --no-audit --no-fund
RUN npm run build

# What ships, gathered in two trees so the final stage can install its
# dependencies (slow, cached while no manifest changes) before it copies the
# compiled code (changes on every edit):
#   $OUT/manifests  the lockfile and the package.json of every shipped workspace
#   $OUT/dist       each shipped workspace's dist/src (compiled code) or
#                   dist/site (web: the storefront page the gateway serves),
#                   plus its proto/ if any (products loads its .proto at run
#                   time, from beside dist/)
# Shipped: every workspace of package.json except the three that only run on a
# developer's machine: `test` (cross-service tests), `grafana` (the dashboard
# generator: compose mounts the JSON it wrote) and `bench`. Their packages
# list only devDependencies, so the final stage's npm ci --omit=dev installs
# nothing for them.
# No dist/test, no TypeScript sources, no .tsbuildinfo.
# OUT is an argument so the image-contents test can run this very step.
ARG OUT=/out
RUN set -eu; \
    mkdir -p "$OUT/manifests" "$OUT/dist"; \
    cp package.json package-lock.json "$OUT/manifests/"; \
    for ws in $(node -p "require('./package.json').workspaces.join(' ')"); do \
      case "$ws" in test | grafana | bench) continue ;; esac; \
      mkdir -p "$OUT/manifests/$ws" "$OUT/dist/$ws/dist"; \
      cp "$ws/package.json" "$OUT/manifests/$ws/"; \
      for built in src site; do \
        if [ -d "$ws/dist/$built" ]; then cp -R "$ws/dist/$built" "$OUT/dist/$ws/dist/"; fi; \
      done; \
      if [ -d "$ws/proto" ]; then cp -R "$ws/proto" "$OUT/dist/$ws/"; fi; \
    done

# --- the image: production dependencies and compiled code, run as `node` ----
FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out/manifests/ ./
# --omit=dev: no compiler, test runner or linter in the image. npm links the
# workspaces into node_modules/@glassbox/, which is how the preload
# (NODE_OPTIONS=--require @glassbox/telemetry/register) resolves from /app.
# --ignore-scripts: no package's install script runs here.
RUN --mount=type=cache,target=/var/cache/npm \
    npm ci --cache /var/cache/npm --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund
COPY --from=build /out/dist/ ./
# Everything above belongs to root and is only readable by the service: the
# process can not rewrite its own code or dependencies.
USER node

# Liveness of whichever service runs, on its PORT (compose sets PORT for each
# and checks /readyz instead). Slim images have no curl, so Node fetches;
# `env -u NODE_OPTIONS` keeps the telemetry preload out of the probe process,
# which would otherwise start a whole OpenTelemetry SDK every 10 seconds.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["env", "-u", "NODE_OPTIONS", "node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself is PID 1 (no npm in between), so SIGTERM reaches the service and
# it shuts down gracefully. Without a command the image says how to pick one.
ENTRYPOINT ["node"]
CMD ["-e", "console.error('Choose a service to run, e.g. services/users/dist/src/main.js (gateway, users, products, orders, notifications, loadgen)'); process.exit(2)"]
