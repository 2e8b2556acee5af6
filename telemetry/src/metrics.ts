import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import { routeTemplate } from './route';
import { activeTraceIds } from './trace-context';

/** The route label of requests no route matched: one value, never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Seconds. 0.3 is a bound because the latency objective is 300 ms: the SLO
 * burn-rate rules need a bucket edge exactly there.
 */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5];

type Labels = 'method' | 'route' | 'status_code';

/**
 * Any string a caller sends as a method would otherwise become a label value
 * (one series per `FOO1`, `FOO2`, ...). As the OpenTelemetry semantic
 * conventions say for `http.request.method`: the known methods as they are,
 * everything else as `_OTHER`.
 */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
export const OTHER_METHOD = '_OTHER';
const methodLabel = (method: string) => (KNOWN_METHODS.has(method) ? method : OTHER_METHOD);

export interface HttpMetrics {
  registry: Registry<OpenMetricsContentType>;
  /** Records every request that passes through it; mount it first. */
  middleware: Middleware;
}

/**
 * The prom-client side of glassbox's metrics: what Prometheus scrapes from
 * /metrics. The names are the seed article's; OpenMetrics is the exposition
 * format because only it carries exemplars (the trace id of one request in a
 * histogram bucket, which is how Grafana jumps from a latency spike to a trace).
 */
export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  // The benchmark's bare mode measures a service with no metrics at all.
  if (process.env.PROM_METRICS_ENABLED === 'false') {
    return { registry, middleware: (_ctx, next) => next() };
  }
  collectDefaultMetrics({ register: registry });

  const requests = new Counter<Labels>({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
    enableExemplars: true,
  });
  const duration = new Histogram<Labels>({
    name: 'http_request_duration_seconds',
    help: 'Time from the request reaching Koa to the response status being set.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
    enableExemplars: true,
  });

  // One labels object per (method, route, status), made once and reused: the
  // request path allocates nothing for its labels. The set is bounded: methods
  // are the known nine or _OTHER, routes are templates, statuses are numbers.
  const labelSets = new Map<string, Record<Labels, string>>();
  const labelsOf = (rawMethod: string, route: string, status: number) => {
    const method = methodLabel(rawMethod);
    const key = `${method} ${status} ${route}`;
    let labels = labelSets.get(key);
    if (!labels) {
      labels = { method, route, status_code: String(status) };
      labelSets.set(key, labels);
    }
    return labels;
  };

  const middleware: Middleware = async function recordHttpMetrics(ctx, next) {
    const started = process.hrtime.bigint();
    let status: number | undefined;
    try {
      await next();
      status = ctx.status;
    } catch (error) {
      // Koa sets the status of an escaping error only after every middleware
      // has returned, so ctx.status still says 404 here: take the error's own.
      const declared = (error as { status?: unknown }).status;
      status = typeof declared === 'number' && declared >= 400 && declared < 600 ? declared : 500;
      throw error;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = labelsOf(ctx.method, routeTemplate(ctx) ?? UNMATCHED_ROUTE, status ?? 500);
      // An exemplar only for a sampled request: one that is not would link to
      // "trace not found", and leaving it out skips prom-client's exemplar work.
      const ids = activeTraceIds();
      if (ids) {
        // prom-client 15: with exemplars on, only the object form is accepted;
        // its types wrongly expect the metric's own label names in an exemplar.
        const exemplarLabels = { ...ids } as unknown as Partial<Record<Labels, string>>;
        requests.inc({ labels, value: 1, exemplarLabels });
        duration.observe({ labels, value: seconds, exemplarLabels });
      } else {
        requests.inc({ labels, value: 1 });
        duration.observe({ labels, value: seconds });
      }
    }
  };
  return { registry, middleware };
}
