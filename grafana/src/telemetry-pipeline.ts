/**
 * Telemetry pipeline: is the observing itself working? The collector's own
 * metrics (its internal telemetry on :8888, Prometheus job "otel-collector")
 * say how many spans, metric points and log records it took in, passed on,
 * refused and failed to send; Prometheus's scrape metrics say how every
 * scrape went.
 *
 * Names are those the pinned collector (0.161.0) exposes: its counters carry
 * no _total suffix (otelcol_receiver_accepted_spans). Jaeger is built on an
 * older collector and exposes the same names WITH _total, which is one more
 * reason every query here selects job="otel-collector".
 *
 * A send-failure or memory-limiter-refusal counter appears only once the
 * first failure happens; until then the query has no series and its panel
 * would read "No data", which looks like a broken panel rather than good
 * news. Those queries end in `or 0 * <a sibling counter that always exists>`:
 * 0 per exporter until something fails (the trick the recording rules use).
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { assemble, guidePanel, timeSeriesPanel, type PromQuery } from './panels';

const COLLECTOR = 'job="otel-collector"';

/** The collector's name for each signal's items, as its metric names spell them. */
const SIGNALS = [
  { items: 'spans', legend: 'spans' },
  { items: 'metric_points', legend: 'metric points' },
  { items: 'log_records', legend: 'log records' },
] as const;

const perSecond = (metric: string, by = '') =>
  `sum${by ? ` by (${by})` : ''} (rate(${metric}{${COLLECTOR}}[$__rate_interval]))`;

/** A counter that only exists after its first increment, or 0 wherever `always` exists. */
const zeroUntilFirst = (metric: string, always: string, by: string) =>
  `${perSecond(metric, by)} or 0 * ${perSecond(always, by)}`;

const eachSignal = (query: (items: string, legend: string) => PromQuery): PromQuery[] =>
  SIGNALS.map(({ items, legend }) => query(items, legend));

export function telemetryPipeline(): dashboard.Dashboard {
  return assemble({
    uid: 'glassbox-telemetry-pipeline',
    title: 'Telemetry pipeline',
    description:
      'What the OpenTelemetry Collector took in, passed on, refused and failed to send; how Prometheus scrapes.',
    panels: [
      guidePanel(`
**Is the observing itself working?** Every span, metric point and log record of the services goes through the
OpenTelemetry Collector (otel-collector.yaml) before Jaeger, Prometheus or Loki see it.

1. **Accepted** should follow the traffic, and **refused** and **failed to send** should stay at 0. Anything else
   means data is being lost right now, and the other dashboards are missing part of the picture.
2. If the collector refuses data, look at **Collector memory** and the **memory limiter**: near its limit
   (a share of its container's, see otel-collector.yaml) it refuses on purpose so the SDKs retry, rather than being killed.
3. At the bottom, how long each Prometheus scrape takes, and how many samples each target returns.
`),
      timeSeriesPanel({
        title: 'Accepted by the collector’s receivers, per signal (items/s)',
        description:
          'Spans, metric points and log records per second that the OTLP receiver accepted into the pipelines (otelcol_receiver_accepted_*). Should follow the request rate: every request makes spans and log lines.',
        unit: 'suffix:items/s',
        queries: eachSignal((items, legend) => ({
          expr: perSecond(`otelcol_receiver_accepted_${items}`),
          legend,
        })),
      }),
      timeSeriesPanel({
        title: 'Refused by the collector’s receivers, per signal (items/s)',
        description:
          'Items per second the receiver turned away because the pipeline said no, usually the memory limiter (otelcol_receiver_refused_*). The SDK is told to retry, so a short burst loses nothing; a lasting rate means data is being dropped. Should be 0.',
        unit: 'suffix:items/s',
        queries: eachSignal((items, legend) => ({
          expr: perSecond(`otelcol_receiver_refused_${items}`),
          legend,
        })),
      }),
      timeSeriesPanel({
        title: 'Sent by the collector’s exporters, per signal (items/s)',
        description:
          'Items per second each exporter delivered (otelcol_exporter_sent_*): spans to Jaeger, metric points to the Prometheus exporter (scraped on :8889), log records to Loki.',
        unit: 'suffix:items/s',
        queries: eachSignal((items, legend) => ({
          expr: perSecond(`otelcol_exporter_sent_${items}`, 'exporter'),
          legend: `${legend} → {{exporter}}`,
        })),
      }),
      timeSeriesPanel({
        title: 'Failed to send by the collector’s exporters, per signal (items/s)',
        description:
          'Items per second an exporter gave up on after its retries (otelcol_exporter_send_failed_*): lost for good. Should be 0. The counter appears only after the first failure, so each query falls back to 0 per exporter until then.',
        unit: 'suffix:items/s',
        queries: eachSignal((items, legend) => ({
          expr: zeroUntilFirst(`otelcol_exporter_send_failed_${items}`, `otelcol_exporter_sent_${items}`, 'exporter'),
          legend: `${legend} → {{exporter}}`,
        })),
      }),
      timeSeriesPanel({
        title: 'Exporter queue size and capacity (batches)',
        description:
          'Batches waiting in each exporter’s sending queue, and how many it can hold. A queue that fills up means the backend (Jaeger, Loki) is slower than the traffic; once full, new data is dropped.',
        unit: 'short',
        queries: [
          { expr: `otelcol_exporter_queue_size{${COLLECTOR}}`, legend: '{{exporter}} waiting' },
          { expr: `otelcol_exporter_queue_capacity{${COLLECTOR}}`, legend: '{{exporter}} capacity' },
        ],
      }),
      timeSeriesPanel({
        title: 'Collector memory: resident and Go heap (bytes)',
        description:
          'Resident memory of the collector process, and the bytes its Go heap holds. The memory limiter processor checks the heap every second and refuses data once it passes its soft limit: 55% of the memory the collector may use (80% minus a 25-point spike margin; 140 MiB under compose’s 256 MiB limit).',
        unit: 'bytes',
        queries: [
          { expr: `otelcol_process_memory_rss{${COLLECTOR}}`, legend: 'resident (RSS)' },
          { expr: `otelcol_process_runtime_heap_alloc_bytes{${COLLECTOR}}`, legend: 'Go heap in use' },
        ],
      }),
      timeSeriesPanel({
        title: 'Memory limiter: passed on and refused, per signal (items/s)',
        description:
          'Items per second the memory_limiter processor (first in every pipeline) let through, and refused because the collector was near its memory limit. Refused should be 0; its counter appears only after the first refusal, so it falls back to 0 until then.',
        unit: 'suffix:items/s',
        queries: [
          ...eachSignal((items, legend) => ({
            expr: perSecond(`otelcol_processor_memory_limiter_accepted_${items}`),
            legend: `${legend} passed on`,
          })),
          ...eachSignal((items, legend) => ({
            expr: zeroUntilFirst(
              `otelcol_processor_memory_limiter_refused_${items}`,
              `otelcol_processor_memory_limiter_accepted_${items}`,
              'processor',
            ),
            legend: `${legend} refused`,
          })),
        ],
      }),
      timeSeriesPanel({
        title: 'Prometheus scrape duration per target (s)',
        description:
          'How long Prometheus took to scrape each target (scrape_duration_seconds, a series Prometheus writes itself for every target). Close to the 10 s timeout, scrapes start failing and that target goes "down".',
        unit: 's',
        queries: [{ expr: 'scrape_duration_seconds', legend: '{{job}} {{instance}}' }],
      }),
      timeSeriesPanel({
        title: 'Samples per scrape, by job',
        description:
          'Samples each job returned at its last scrape (scrape_samples_scraped): its number of series. A jump means new label values, often a label that should not be one (a raw path, an id).',
        unit: 'short',
        width: 24,
        queries: [{ expr: 'sum by (job) (scrape_samples_scraped)', legend: '{{job}}' }],
      }),
    ],
  });
}
