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
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { assemble, guidePanel, labelValuesVariable, PROBE_ROUTES, timeSeriesPanel } from './panels';

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
    ],
    panels: [
      guidePanel(`
**RED: Rate, Errors, Duration.** The top row compares the services; the rows below zoom into the routes of the
service picked in **Service** above.

1. Look at **Error ratio per service** and **Latency p99 per service** first: the service whose line leaves the
   floor is where to dig.
2. Pick it in **Service**, and find the route in **Latency p50 / p95 / p99 by route**.
3. The dots on that panel are **exemplars**: each one is a real request, and its trace id. Hover a dot high up
   and click **Open trace in Jaeger** to see where that slow request spent its time
   (the whole walk is in docs/grafana-tour.md).

Probe routes (/metrics, /healthz, /readyz) are left out everywhere: they are not traffic anyone sent.
`),
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
    ],
  });
}
