/**
 * Service graph and span metrics: what the OpenTelemetry Collector derives
 * from the spans it forwards (otel-collector.yaml), rather than what the
 * services count themselves.
 *
 *   traces_service_graph_request_total{client, server}   servicegraph connector:
 *       one series per pair of services that called each other. Compose runs
 *       it (otel-collector.servicegraph.yaml); the native stack's collector is
 *       built without it, and there Jaeger's dependencies show the same graph.
 *   traces_span_metrics_calls_total / _duration_seconds_bucket
 *       spanmetrics connector: RED per service_name, span_name, span_kind and
 *       status_code, for EVERY span, HTTP or not (gRPC, SQL, RabbitMQ).
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { JAEGER, JaegerDependencyGraphQuery, jaegerSearchLink } from './jaeger';
import {
  assemble,
  guidePanel,
  labelValuesVariable,
  nodeGraphPanel,
  PROMETHEUS,
  promTableQuery,
  timeSeriesPanel,
} from './panels';

/**
 * The connectors flush what they computed once a minute (their
 * metrics_flush_interval defaults to 60 s), so these series step once a
 * minute whatever the scrape interval: rates here span 4 minutes.
 */
const CONNECTOR_FLUSH = '1m';
const FLUSH_NOTE = 'The collector updates these series once a minute, so the rate spans 4 minutes.';

const NATIVE_STACK_NOTE =
  'Under the native stack (npm run stack) this series is absent: its collector is built without the servicegraph connector. The panel "Service dependencies from Jaeger" beside this one shows the same graph from Jaeger.';

/**
 * What a click on an edge offers: a Jaeger search for the recent traces of
 * that pair of services. Jaeger searches by one service at a time, so the
 * search names the called one (the edge's target): every trace it finds
 * reached the target through a caller, and in glassbox a service has one or
 * two callers (users: the gateway and orders), so the edge's source is in
 * them, calling the target directly or one hop before it.
 */
const EDGE_TRACE_SEARCH = [
  jaegerSearchLink('Traces of ${__data.fields.source} → ${__data.fields.target} (Jaeger search)', {
    service: '${__data.fields.target}',
    limit: 20,
  }),
];

const calls = (matchers: string) =>
  `sum by (span_name) (rate(traces_span_metrics_calls_total{${matchers}}[$__rate_interval]))`;

export function serviceGraph(): dashboard.Dashboard {
  return assemble({
    uid: 'glassbox-service-graph',
    title: 'Service graph and span metrics',
    description: 'Who calls whom, and RED for every span name, from the metrics the collector derives from traces.',
    variables: [
      labelValuesVariable({
        name: 'service',
        label: 'Service',
        selector: 'traces_span_metrics_calls_total',
        labelName: 'service_name',
        description: 'The service (its OpenTelemetry service.name) whose spans the lower panels show.',
      }),
    ],
    panels: [
      guidePanel(
        `
**Metrics computed from traces.** The collector turns every span into counts and durations, so this dashboard
sees what the services' own /metrics can not: gRPC calls, SQL queries, RabbitMQ publishes and consumes.

1. The two graphs show who calls whom: the gateway calls orders, orders calls users (HTTP), products (gRPC) and,
   through RabbitMQ, notifications. Under docker compose both graphs draw; under the native stack only Jaeger's does.
   Click an edge: **Traces of A → B** opens the recent traces of that pair in Jaeger, beside the dashboard.
2. Pick a **Service**, then look for the span name with the highest **p95 duration**: for orders, is it the gRPC
   call, a SQL query, or the publish? Its dots are exemplars: click one for a trace.
`,
        7,
      ),
      nodeGraphPanel({
        title: 'Service graph: calls per second between services (average over the time range)',
        description: `Edges from the collector's servicegraph connector: traces_service_graph_request_total{client, server} counts each client span paired with the server span it caused (and producer with consumer). The number on an edge is the average calls per second over the dashboard's time range. Click an edge for the recent traces of its two services in Jaeger. ${NATIVE_STACK_NOTE}`,
        unit: 'reqps',
        datasource: PROMETHEUS,
        target: promTableQuery(
          // A node graph needs rows with id, source, target: label_join makes
          // the id ("gateway->orders"), the organize step renames the rest.
          'label_join(sum by (client, server) (rate(traces_service_graph_request_total[$__range])), "id", "->", "client", "server")',
        ),
        transformations: [
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true },
              renameByName: { client: 'source', server: 'target', Value: 'mainstat' },
            },
          },
        ],
        edgeLinks: EDGE_TRACE_SEARCH,
      }),
      nodeGraphPanel({
        title: 'Service dependencies from Jaeger (calls over the time range)',
        description:
          'The same graph, computed by Jaeger from the spans it stores (its /api/dependencies, Grafana\'s "Dependency graph" query type). The number on an edge is how many calls Jaeger counted between the two services; click an edge for the recent traces of its two services. Works under both ways of running the stack.',
        unit: 'short',
        datasource: JAEGER,
        target: new JaegerDependencyGraphQuery(),
        edgeLinks: EDGE_TRACE_SEARCH,
      }),
      timeSeriesPanel({
        title: 'Calls per second between services (service graph)',
        description: `Calls per second on each edge of the service graph, over the rate interval: traces_service_graph_request_total by client and server. ${FLUSH_NOTE} ${NATIVE_STACK_NOTE}`,
        unit: 'reqps',
        width: 24,
        minInterval: CONNECTOR_FLUSH,
        queries: [
          {
            expr: 'sum by (client, server) (rate(traces_service_graph_request_total[$__rate_interval]))',
            legend: '{{client}} → {{server}}',
          },
        ],
      }),
      timeSeriesPanel({
        title: 'Spans per second by span name: $service',
        description: `Spans per second the selected service produced, by span name, from traces_span_metrics_calls_total. Every kind is here: SERVER (requests it served), CLIENT (HTTP, gRPC and SQL calls it made), PRODUCER and CONSUMER (RabbitMQ). ${FLUSH_NOTE}`,
        unit: 'suffix:spans/s',
        minInterval: CONNECTOR_FLUSH,
        queries: [{ expr: calls('service_name="$service"'), legend: '{{span_name}}' }],
      }),
      timeSeriesPanel({
        title: 'Span error ratio by span name: $service (status ERROR / all spans)',
        description: `Share of the spans of each name that ended with status ERROR. The "or 0 * ..." half of the query gives span names that never failed a 0 rather than no line at all, the same trick the recording rules use. ${FLUSH_NOTE}`,
        unit: 'percentunit',
        minInterval: CONNECTOR_FLUSH,
        queries: [
          {
            expr: `(${calls('service_name="$service", status_code="STATUS_CODE_ERROR"')} or 0 * ${calls('service_name="$service"')}) / ${calls('service_name="$service"')}`,
            legend: '{{span_name}}',
          },
        ],
      }),
      timeSeriesPanel({
        title: 'Storefront page (service web): page loads and orders clicked per second',
        description: `From the browser's own spans (docs/storefront.md): documentLoad is one page load (the document-load instrumentation), "click Place order" one click on the button. The browser sends them through the gateway to the collector, whose span metrics count them like any other span. ${FLUSH_NOTE}`,
        unit: 'reqps',
        minInterval: CONNECTOR_FLUSH,
        queries: [
          { expr: calls('service_name="web", span_name=~"documentLoad|click Place order"'), legend: '{{span_name}}' },
        ],
      }),
      timeSeriesPanel({
        title: 'Storefront page: click on Place order to the order shown, p95 (exemplars: a click’s whole trace)',
        description: `How long a visitor waits: the duration of the "click Place order" span, which the page starts on the click and ends once it shows the placed order. It holds the whole request through the gateway and every service; an exemplar opens that trace, browser first. ${FLUSH_NOTE}`,
        unit: 's',
        minInterval: CONNECTOR_FLUSH,
        queries: [
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(traces_span_metrics_duration_seconds_bucket{service_name="web", span_name="click Place order"}[$__rate_interval])))',
            legend: 'p95',
            exemplar: true,
          },
        ],
      }),
      timeSeriesPanel({
        title: 'Span duration p95 by span name: $service (exemplars: click a dot for its trace)',
        description: `95% of the spans of each name were at least this fast: histogram_quantile(0.95) over traces_span_metrics_duration_seconds_bucket. The dots are exemplars the spanmetrics connector attached (a trace id per bucket sample); click one to open its trace in Jaeger. ${FLUSH_NOTE}`,
        unit: 's',
        width: 24,
        height: 10,
        minInterval: CONNECTOR_FLUSH,
        queries: [
          {
            expr: 'histogram_quantile(0.95, sum by (span_name, le) (rate(traces_span_metrics_duration_seconds_bucket{service_name="$service"}[$__rate_interval])))',
            legend: '{{span_name}}',
            exemplar: true,
          },
        ],
      }),
    ],
  });
}
