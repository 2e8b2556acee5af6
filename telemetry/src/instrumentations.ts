import type { IncomingMessage } from 'node:http';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { KoaLayerType } from '@opentelemetry/instrumentation-koa';

/**
 * What is instrumented when OTEL_NODE_ENABLED_INSTRUMENTATIONS is not set.
 *
 * fs, dns and net are left out on purpose: they produce a span for every file
 * read, lookup and socket, which costs more than it teaches. Anyone who wants
 * them sets OTEL_NODE_ENABLED_INSTRUMENTATIONS (the standard variable) to a
 * list that names them.
 */
export const DEFAULT_INSTRUMENTATIONS = ['http', 'undici', 'koa', 'pg', 'amqplib', 'grpc', 'pino', 'runtime-node'];

/** Probes and scrapes are not the traffic a learner wants to see in traces. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function isProbeOrScrape(request: IncomingMessage): boolean {
  const path = (request.url ?? '').split('?', 1)[0] ?? '';
  return UNTRACED_PATHS.has(path);
}

export function buildInstrumentations(): Instrumentation[] {
  process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS ??= DEFAULT_INSTRUMENTATIONS.join(',');
  return getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-http': {
      ignoreIncomingRequestHook: isProbeOrScrape,
    },
    '@opentelemetry/instrumentation-pg': {
      // SQL outside any request (the outbox relay polling, migrations, pool
      // housekeeping) would otherwise start a new one-span trace every time.
      requireParentSpan: true,
      // Taking a connection from the pool is not a query; a span for it doubles the SQL noise.
      ignoreConnectSpans: true,
    },
    '@opentelemetry/instrumentation-koa': {
      // Each app.use() layer would otherwise get a span of its own: request-id,
      // error handler, body reader... They add depth, not meaning. The router
      // layer stays: it is what carries http.route and names the server span.
      ignoreLayersType: [KoaLayerType.MIDDLEWARE],
    },
  });
}
