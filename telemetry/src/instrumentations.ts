import type { IncomingMessage } from 'node:http';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type * as Http from '@opentelemetry/instrumentation-http';
import type * as Koa from '@opentelemetry/instrumentation-koa';
import type * as Pg from '@opentelemetry/instrumentation-pg';
import { edgeHooks, type EdgeGate } from './edge';
import { LEAN_HTTP_NAME, LeanHttpServerInstrumentation } from './lean-http';

/* eslint-disable @typescript-eslint/no-require-imports -- each instrumentation is loaded only when enabled */

/**
 * Probes and scrapes are not the traffic a learner wants to see in traces;
 * nor is the storefront page's own span export, which the gateway relays to
 * the collector (tracing it would trace the tracing, on every page).
 */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/otlp/v1/traces']);

function isProbeOrScrape(request: IncomingMessage): boolean {
  const url = request.url ?? '';
  const queryAt = url.indexOf('?');
  return UNTRACED_PATHS.has(queryAt === -1 ? url : url.slice(0, queryAt));
}

/**
 * The instrumentations glassbox can load, by the names the standard
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS variable uses. Each is required only
 * when enabled: @opentelemetry/auto-instrumentations-node would load all of
 * its ~40 packages (AWS, GraphQL, MongoDB...) at start, which the benchmark
 * measured as ~100 ms of cold start and ~15 MB of memory for nothing.
 */
const AVAILABLE: Record<string, (edge?: EdgeGate) => Instrumentation> = {
  [LEAN_HTTP_NAME]: (edge) => new LeanHttpServerInstrumentation({ ignore: isProbeOrScrape, edge }),
  http: (edge) => {
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof Http;
    return new HttpInstrumentation({ ignoreIncomingRequestHook: isProbeOrScrape, ...(edge ? edgeHooks(edge) : {}) });
  },
  undici: () =>
    new (
      require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici')
    ).UndiciInstrumentation(),
  koa: () => {
    const { KoaInstrumentation, KoaLayerType } = require('@opentelemetry/instrumentation-koa') as typeof Koa;
    // Each app.use() layer would otherwise get a span of its own: request-id,
    // error handler, body reader... They add depth, not meaning. The router
    // layer stays: it is what carries http.route and names the server span.
    return new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] });
  },
  pg: () => {
    const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof Pg;
    return new PgInstrumentation({
      // SQL outside any request (the outbox relay polling, migrations, pool
      // housekeeping) would otherwise start a new one-span trace every time.
      requireParentSpan: true,
      // Taking a connection from the pool is not a query; a span for it doubles the SQL noise.
      ignoreConnectSpans: true,
    });
  },
  amqplib: () =>
    new (
      require('@opentelemetry/instrumentation-amqplib') as typeof import('@opentelemetry/instrumentation-amqplib')
    ).AmqplibInstrumentation(),
  grpc: () =>
    new (
      require('@opentelemetry/instrumentation-grpc') as typeof import('@opentelemetry/instrumentation-grpc')
    ).GrpcInstrumentation(),
  pino: () =>
    new (
      require('@opentelemetry/instrumentation-pino') as typeof import('@opentelemetry/instrumentation-pino')
    ).PinoInstrumentation(),
  'runtime-node': () =>
    new (
      require('@opentelemetry/instrumentation-runtime-node') as typeof import('@opentelemetry/instrumentation-runtime-node')
    ).RuntimeNodeInstrumentation(),
  fs: () =>
    new (
      require('@opentelemetry/instrumentation-fs') as typeof import('@opentelemetry/instrumentation-fs')
    ).FsInstrumentation(),
  dns: () =>
    new (
      require('@opentelemetry/instrumentation-dns') as typeof import('@opentelemetry/instrumentation-dns')
    ).DnsInstrumentation(),
  net: () =>
    new (
      require('@opentelemetry/instrumentation-net') as typeof import('@opentelemetry/instrumentation-net')
    ).NetInstrumentation(),
};

/**
 * What is instrumented when OTEL_NODE_ENABLED_INSTRUMENTATIONS is not set:
 * the lean server-request path (lean-http.ts) in place of the stock http and
 * koa instrumentations, outgoing HTTP through fetch (undici, which already
 * listens on diagnostics channels, so Node's http client needs no patch), and
 * the stock instrumentations of the rest, whose cost is per call, not per
 * request.
 *
 * fs, dns and net are left out on purpose: they produce a span for every file
 * read, lookup and socket, which costs more than it teaches. Anyone who wants
 * them names them in OTEL_NODE_ENABLED_INSTRUMENTATIONS.
 */
export const DEFAULT_INSTRUMENTATIONS = [LEAN_HTTP_NAME, 'undici', 'pg', 'amqplib', 'grpc', 'pino', 'runtime-node'];

/**
 * The stock request path, for comparison (the benchmark, the conformance
 * test) or for anyone who prefers it:
 *   OTEL_NODE_ENABLED_INSTRUMENTATIONS=http,koa,undici,pg,amqplib,grpc,pino,runtime-node
 */
export const STOCK_INSTRUMENTATIONS = ['http', 'koa', 'undici', 'pg', 'amqplib', 'grpc', 'pino', 'runtime-node'];

function namesFrom(variable: string): string[] | undefined {
  const value = process.env[variable]?.trim();
  return value
    ? value
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
    : undefined;
}

/**
 * The instrumentations to load, from the standard variables:
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS (default: DEFAULT_INSTRUMENTATIONS) minus
 * OTEL_NODE_DISABLED_INSTRUMENTATIONS. An unknown name is reported, not fatal.
 * With an `edge`, the HTTP server spans apply the edge trace policy (edge.ts),
 * on either request path.
 */
export function buildInstrumentations(edge?: EdgeGate): Instrumentation[] {
  const enabled = namesFrom('OTEL_NODE_ENABLED_INSTRUMENTATIONS') ?? DEFAULT_INSTRUMENTATIONS;
  const disabled = new Set(namesFrom('OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? []);
  const instrumentations: Instrumentation[] = [];
  for (const name of enabled) {
    const build = AVAILABLE[name];
    if (!build) {
      process.stderr.write(
        `telemetry: unknown instrumentation "${name}" ignored; known: ${Object.keys(AVAILABLE).join(', ')}\n`,
      );
      continue;
    }
    if (disabled.has(name)) continue;
    // Both would trace every incoming request: the stock one, asked for by name, wins.
    if (name === LEAN_HTTP_NAME && enabled.includes('http')) {
      process.stderr.write(`telemetry: "${LEAN_HTTP_NAME}" and "http" both enabled; using the stock "http"\n`);
      continue;
    }
    instrumentations.push(build(edge));
  }
  return instrumentations;
}
