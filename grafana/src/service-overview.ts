/**
 * Service overview (RED): Rate, Errors, Duration of every glassbox service,
 * from the prom-client metrics each one serves on /metrics:
 *   http_requests_total{method, route, status_code}
 *   http_request_duration_seconds_bucket{method, route, status_code, le}
 * The job label names the service (prometheus/prometheus.yml).
 *
 * Rates and error ratios read the recording rules of
 * prometheus/rules/recording.yml (evaluated every 15 s over 5 minutes). The
 * latency panel does NOT: a recorded series carries no exemplars, and the
 * exemplars are the point of that panel. It computes its quantiles from the
 * raw histogram, so Prometheus can return the trace ids stored with it.
 *
 * Below the numbers, what is behind them for the selected service: its
 * slowest and its failed recent traces (Jaeger searches), and its log lines
 * (Loki), warnings and errors first. The job label that names a service in
 * Prometheus is its OpenTelemetry service.name, which is the service in
 * Jaeger and the service_name label in Loki: one $service selects all three.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  assemble,
  choiceVariable,
  guidePanel,
  labelValuesVariable,
  logsPanel,
  PROBE_ROUTES,
  textboxVariable,
  timeSeriesPanel,
  traceTablePanel,
} from './panels';

/** The latency objective of prometheus/rules (300 ms): a slower trace is one a learner should look at. */
const SLOW_TRACE = '300ms';
/** Traces per table: enough to see a pattern, few enough for Jaeger to answer at once. */
const TRACES = 20;
/** Log lines per panel. */
const LINES = 200;

/** The latency histogram of the selected service and routes, as a per-second rate per bucket. */
const bucketRate = `sum by (le) (rate(http_request_duration_seconds_bucket{job="$service", route=~"$route", route!~"${PROBE_ROUTES}"}[$__rate_interval]))`;

export function serviceOverview(): dashboard.Dashboard {
  return assemble({
    uid: 'glassbox-service-overview',
    title: 'Service overview (RED)',
    description: 'Request rate, error ratio and latency of every glassbox service, and of each route of one service.',
    variables: [
      labelValuesVariable({
        name: 'service',
        label: 'Service',
        selector: 'http_requests_total',
        labelName: 'job',
        description: 'The service (the Prometheus job) the per-route panels show.',
      }),
      labelValuesVariable({
        name: 'route',
        label: 'Route',
        selector: `http_requests_total{job="$service", route!~"${PROBE_ROUTES}"}`,
        labelName: 'route',
        description: 'Route templates of the service, without the probe routes. "All" shows every route.',
        multi: true,
        includeAll: true,
        allValue: '.+',
      }),
      textboxVariable({
        name: 'min_duration',
        label: 'Slow trace threshold',
        description:
          'The "Slowest recent traces" table lists traces with a span of the service at least this long (a Go duration: 300ms, 1.5s). 300ms is the latency objective; lower it to see the slowest of normal traffic.',
        defaultValue: SLOW_TRACE,
      }),
      choiceVariable({
        name: 'error_type',
        label: 'Error type',
        description:
          'The "Recent traces with an error" table lists traces with a span of the service whose error.type is this: the HTTP status code of a 5xx (500 a bug, 502/503 a dependency failed, 504 a timeout), or type another.',
        values: ['500', '502', '503', '504'],
      }),
    ],
    panels: [
      guidePanel(
        `
**RED: Rate, Errors, Duration.** The top row compares the services; the rows below zoom into the routes of the
service picked in **Service** above.

1. Look at **Error ratio per service** and **Latency p99 per service** first: the service whose line leaves the
   floor is where to dig.
2. Pick it in **Service**, and find the route in **Latency p50 / p95 / p99 by route**.
3. The dots on that panel are **exemplars**: each one is a real request, and its trace id. Hover a dot high up
   and click **Open trace in Jaeger** to see where that slow request spent its time
   (the whole walk is in docs/grafana-tour.md).
4. At the bottom, the requests behind the numbers: the **slowest** and the **failed** recent traces of the service
   (click a trace id to open it), and its **log lines**, warnings and errors first (expand a line: its trace_id
   opens the trace).

Probe routes (/metrics, /healthz, /readyz) are left out everywhere: they are not traffic anyone sent.
`,
        8,
      ),
      timeSeriesPanel({
        title: 'Request rate per service (req/s, 5m average)',
        description:
          'Requests per second each service served, averaged over 5 minutes, probe routes excluded. From the recording rule job:http_requests:rate5m. notifications is missing on purpose: its work arrives through RabbitMQ, not HTTP (see the Orders flow dashboard).',
        unit: 'reqps',
        width: 8,
        queries: [{ expr: 'job:http_requests:rate5m', legend: '{{job}}' }],
      }),
      timeSeriesPanel({
        title: 'Error ratio per service (5xx / all requests, 5m)',
        description:
          'Share of requests answered with a 5xx, over 5 minutes (0.01 = 1%). A 4xx is the caller’s mistake and does not count. From the recording rule job:http_request_errors_per_request:ratio_rate5m; it reads 0, not empty, while a service has no errors.',
        unit: 'percentunit',
        width: 8,
        queries: [{ expr: 'job:http_request_errors_per_request:ratio_rate5m', legend: '{{job}}' }],
      }),
      timeSeriesPanel({
        title: 'Latency p99 per service (5m)',
        description:
          '99% of the requests of the last 5 minutes were at least this fast: histogram_quantile(0.99) over all routes of a service (recording rule job:http_request_duration_seconds:p99_rate5m). The latency objective is 300 ms.',
        unit: 's',
        width: 8,
        queries: [{ expr: 'job:http_request_duration_seconds:p99_rate5m', legend: '{{job}}' }],
      }),
      timeSeriesPanel({
        title: 'Request rate by route: $service (req/s, 5m average)',
        description:
          'Requests per second on each route template of the selected service, averaged over 5 minutes (recording rule job_route:http_requests:rate5m). Routes are templates ("/users/:id"), never raw paths: one series per route, whatever the ids.',
        unit: 'reqps',
        queries: [{ expr: 'job_route:http_requests:rate5m{job="$service", route=~"$route"}', legend: '{{route}}' }],
      }),
      timeSeriesPanel({
        title: 'Error ratio by route: $service (5xx / all requests, 5m)',
        description:
          'Share of the requests of each route answered with a 5xx, over 5 minutes (recording rule job_route:http_request_errors_per_request:ratio_rate5m). 0 while a route has no errors.',
        unit: 'percentunit',
        queries: [
          {
            expr: 'job_route:http_request_errors_per_request:ratio_rate5m{job="$service", route=~"$route"}',
            legend: '{{route}}',
          },
        ],
      }),
      timeSeriesPanel({
        title: 'Latency p50 / p95 / p99 by route: $service (exemplars: click a dot for its trace)',
        description:
          'Half, 95% and 99% of the requests to the selected routes were at least this fast: histogram_quantile over http_request_duration_seconds_bucket, per rate interval. Computed from the raw histogram, not from the recording rules, because only the raw series carry exemplars: the dots, each a real request with the trace_id it was served under. Click one to open that trace in Jaeger. Quantiles are interpolated inside a bucket (edges 5 ms ... 300 ms, 500 ms, 1 s ... 5 s), so read them to the bucket.',
        unit: 's',
        width: 24,
        height: 10,
        queries: [
          { expr: `histogram_quantile(0.50, ${bucketRate})`, legend: 'p50' },
          { expr: `histogram_quantile(0.95, ${bucketRate})`, legend: 'p95' },
          // Exemplars are asked for once: every quantile reads the same buckets,
          // so the three targets would draw the same dots three times.
          { expr: `histogram_quantile(0.99, ${bucketRate})`, legend: 'p99', exemplar: true },
        ],
      }),
      timeSeriesPanel({
        title: 'Responses per second by status code: $service',
        description:
          'Responses per second of the selected routes, by HTTP status code, over the rate interval. Where the error ratio says "how much", this says "which": 503 (a dependency is down) reads differently from 500 (a bug), and 4xx (bad input) is shown too.',
        unit: 'reqps',
        width: 24,
        queries: [
          {
            expr: `sum by (status_code) (rate(http_requests_total{job="$service", route=~"$route", route!~"${PROBE_ROUTES}"}[$__rate_interval]))`,
            legend: '{{status_code}}',
          },
        ],
      }),
      traceTablePanel({
        title: 'Slowest recent traces: $service (slower than $min_duration, longest first)',
        description: `The ${TRACES} most recent traces in which a span of the selected service lasted at least the Slow trace threshold ($min_duration), longest first: a Jaeger search (service $service, min duration $min_duration, limit ${TRACES}) over the dashboard's time range. Service and operation are those of the trace's root span, where the request entered glassbox; the duration is the root span's, the whole request. Click a trace id to open the trace beside the dashboard. Empty: no request of the time range was that slow; lower the threshold to see the slowest of the rest.`,
        search: { service: '$service', minDuration: '$min_duration', limit: TRACES },
        longestFirst: true,
      }),
      traceTablePanel({
        title: 'Recent traces with an error: $service (error.type $error_type, most recent first)',
        description: `The ${TRACES} most recent traces in which an HTTP span of the selected service failed with the Error type above ($error_type): a Jaeger search (service $service, tag error.type=$error_type, limit ${TRACES}) over the dashboard's time range. error.type is the OpenTelemetry attribute the HTTP instrumentation sets, with the span's status ERROR, on a server span that answered a 5xx and on a client span that got one. (The tag error=true would find every failed span, but Jaeger 2.13's in-memory store reads it as a string where it expects a boolean and finds none.) Click a trace id to open the trace; the failed spans are red, with the exception recorded on them.`,
        search: { service: '$service', tags: 'error.type=$error_type', limit: TRACES },
      }),
      logsPanel({
        title: 'Warnings and errors: $service (newest first; expand a line for its trace)',
        description: `Log lines of the selected service at level warn or above, newest first (LogQL: {service_name="$service"} | severity_number >= 13; OpenTelemetry severity numbers 13-16 are warnings, 17 and up errors and fatal). The services log with pino; the collector sends every line to Loki with its trace_id and span_id. Expand a line: its trace_id has an "Open trace in Jaeger" link. At most ${LINES} lines.`,
        expr: '{service_name="$service"} | severity_number >= 13',
        maxLines: LINES,
      }),
      logsPanel({
        title: 'All log lines: $service (newest first)',
        description: `Every log line of the selected service, newest first (LogQL: {service_name="$service"}), at most ${LINES}. A line written while serving a request carries that request's trace_id: expand it for the "Open trace in Jaeger" link. Lines without one were written outside any request (start-up, the outbox relay between polls).`,
        expr: '{service_name="$service"}',
        maxLines: LINES,
      }),
    ],
  });
}
