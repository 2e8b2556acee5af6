import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Tally } from './tally';

export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

/**
 * GET /healthz, /stats (JSON) and /metrics (Prometheus text) about the run.
 * A bare node:http server on purpose: the load generator is the thing doing
 * the measuring, not a service under test, so it carries no Koa and no
 * OpenTelemetry that would compete with the services for the CPU.
 */
export async function startStatusServer(tally: Tally, host: string, port: number): Promise<StatusServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ error: { code: 'method_not_allowed', message: `${request.method} is not allowed` } }),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
    } else if (path === '/stats') {
      const stats = tally.snapshot(performance.now());
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats, null, 2));
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(tally));
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'not_found', message: `no route for ${request.method} ${path}` } }));
    }
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The run's counters in the Prometheus text format, written by hand: a few
 * lines of `# TYPE`, then `name{labels} value`. Names end in _total for
 * counters and use seconds, as the project's other metrics do.
 */
function metricsText(tally: Tally): string {
  const lines = [
    '# HELP loadgen_requests_due_total Requests whose send time came.',
    '# TYPE loadgen_requests_due_total counter',
    `loadgen_requests_due_total ${tally.due}`,
    '# HELP loadgen_requests_sent_total Requests sent.',
    '# TYPE loadgen_requests_sent_total counter',
    `loadgen_requests_sent_total ${tally.sent}`,
    '# HELP loadgen_requests_dropped_total Requests not sent because too many were in flight.',
    '# TYPE loadgen_requests_dropped_total counter',
    `loadgen_requests_dropped_total ${tally.dropped}`,
    '# HELP loadgen_responses_total Responses received, by status code.',
    '# TYPE loadgen_responses_total counter',
    ...[...tally.responsesByStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `loadgen_responses_total{status="${status}"} ${n}`),
    '# HELP loadgen_request_failures_total Requests that got no response, by reason.',
    '# TYPE loadgen_request_failures_total counter',
    ...[...tally.errorsByKind].map(([kind, n]) => `loadgen_request_failures_total{reason="${labelValue(kind)}"} ${n}`),
    '# HELP loadgen_requests_in_flight Requests sent and not yet answered.',
    '# TYPE loadgen_requests_in_flight gauge',
    `loadgen_requests_in_flight ${tally.inFlight}`,
    '# HELP loadgen_latency_seconds Latency from the intended send time, since the start of the run.',
    '# TYPE loadgen_latency_seconds summary',
    ...[50, 95, 99].map(
      (p) => `loadgen_latency_seconds{quantile="${p / 100}"} ${(tally.latency.percentile(p) / 1000).toFixed(6)}`,
    ),
    `loadgen_latency_seconds_count ${tally.latency.count}`,
  ];
  return lines.join('\n') + '\n';
}

/** A reason may be an error message: escape what would end the label early. */
function labelValue(text: string): string {
  return text.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
