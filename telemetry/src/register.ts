/**
 * The preload: `node --require @glassbox/telemetry/register dist/src/main.js`.
 *
 * Why CommonJS and --require: instrumentations work by patching modules as
 * they are require()d. A --require preload runs before the app's first
 * require, so koa, http, pg, amqplib, grpc and pino are all patched, and it
 * starts faster than the ESM loader hook. Under ESM without that hook the
 * instrumentation degrades silently (no koa spans, no http.route, no trace
 * ids in logs). The whole repository compiles to CommonJS for this reason.
 *
 * The preload must run before koa is required, or no spans appear.
 */
import { edgeTracePolicyFrom, type EdgeTracePolicy } from './edge-policy';
import { flushTelemetry } from './lifecycle';

function telemetryDisabled(): boolean {
  return (process.env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
}

const edgePolicy = edgeTracePolicy();

if (!telemetryDisabled()) {
  // Loaded lazily: with OTEL_SDK_DISABLED=true not one SDK module is read, so
  // the benchmark's "bare" process really is bare.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startTelemetry } = require('./sdk') as typeof import('./sdk');
  // In the gateway's process every request is taken as one from outside (its management
  // port serves probes and scrapes, which are not traced at all).
  startTelemetry({}, edgePolicy && { policyFor: () => edgePolicy });

  // A process that handles SIGTERM itself (every glassbox service does, through
  // the service kit) calls flushTelemetry() when its own drain is done. A process
  // that does not would otherwise die on SIGTERM with spans still buffered.
  process.once('SIGTERM', () => {
    if (process.listenerCount('SIGTERM') > 0) return;
    void flushTelemetry().finally(() => process.exit(143));
  });
  // Normal end of the event loop: flush once, then let the process end.
  process.once('beforeExit', () => void flushTelemetry());
}

/**
 * EDGE_TRACE_POLICY is set for the gateway only (docs/edge.md). A wrong value
 * stops the process here, before it takes a request it would trace wrongly.
 */
function edgeTracePolicy(): EdgeTracePolicy | undefined {
  try {
    return edgeTracePolicyFrom();
  } catch (error) {
    process.stderr.write(`telemetry: invalid configuration:\n  ${(error as Error).message}\n`);
    process.exit(1);
  }
}
