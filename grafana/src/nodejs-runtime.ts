/**
 * Node.js runtime: how each service process is doing, from the default
 * metrics prom-client collects (collectDefaultMetrics in
 * telemetry/src/metrics.ts): event-loop delay, heap, garbage collection,
 * CPU, resident memory, handles. One line per service instance.
 *
 * Event-loop UTILISATION is the exception: prom-client does not measure it;
 * the OpenTelemetry runtime instrumentation does, and sends it over OTLP. It
 * reaches Prometheus through the collector, whose series name the service
 * "glassbox/<service>" and the instance by its service.instance.id (an id,
 * not an address), so that panel selects on those labels instead.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { assemble, guidePanel, labelValuesVariable, timeSeriesPanel } from './panels';

/** The selected service instances, as Prometheus scraped them. */
const scraped = 'job=~"$service", instance=~"$instance"';
const perInstance = '{{job}} {{instance}}';

export function nodejsRuntime(): dashboard.Dashboard {
  return assemble({
    uid: 'glassbox-nodejs-runtime',
    title: 'Node.js runtime',
    description: 'Event loop, heap, garbage collection, CPU, memory and handles of every glassbox service process.',
    variables: [
      labelValuesVariable({
        name: 'service',
        label: 'Service',
        // nodejs_version_info is exported by every Node.js process prom-client
        // runs in, and by nothing else: the list is exactly the services.
        selector: 'nodejs_version_info',
        labelName: 'job',
        description: 'Services (Prometheus jobs) to show.',
        multi: true,
        includeAll: true,
      }),
      labelValuesVariable({
        name: 'instance',
        label: 'Instance',
        selector: 'nodejs_version_info{job=~"$service"}',
        labelName: 'instance',
        description: 'Scrape addresses of the selected services: one per running process.',
        multi: true,
        includeAll: true,
      }),
    ],
    panels: [
      guidePanel(`
**Is the process healthy, or is it the code?** A slow request is often a busy or blocked **event loop**: one
thread runs every callback of a Node.js process, so while one request computes, every other request waits.

1. **Event-loop delay** first: a p99 above a few milliseconds means callbacks queue up behind something.
2. Then what could cause it: **CPU** near one core (the loop is saturated), **time in garbage collection** rising
   with **heap used** (memory pressure), **active handles** growing without bound (a leak of sockets or timers).
`),
      timeSeriesPanel({
        title: 'Event-loop delay p99 and mean (s)',
        description:
          'How late timers fired, measured by prom-client with perf_hooks.monitorEventLoopDelay (10 ms resolution) and reset at every scrape: the p99 and the mean of the last scrape interval. While the loop is blocked, every request of that process waits.',
        unit: 's',
        queries: [
          { expr: `nodejs_eventloop_lag_p99_seconds{${scraped}}`, legend: `${perInstance} p99` },
          { expr: `nodejs_eventloop_lag_mean_seconds{${scraped}}`, legend: `${perInstance} mean` },
        ],
      }),
      timeSeriesPanel({
        title: 'Event-loop utilisation (share of time the loop was busy)',
        description:
          'Share of wall-clock time the event loop spent running callbacks rather than waiting for I/O (1 = saturated). Measured by the OpenTelemetry runtime instrumentation and sent over OTLP, so it comes through the collector: its job is "glassbox/<service>" and its instance is the service.instance.id (the Instance selector does not apply to it).',
        unit: 'percentunit',
        queries: [{ expr: 'nodejs_eventloop_utilization_ratio{job=~"glassbox/$service"}', legend: perInstance }],
      }),
      timeSeriesPanel({
        title: 'Heap used and heap total (bytes)',
        description:
          'V8 heap: bytes in use by JavaScript objects, and the heap size V8 has reserved. Used climbing back to the same floor after each GC is normal; a floor that keeps rising is a leak.',
        unit: 'bytes',
        queries: [
          { expr: `nodejs_heap_size_used_bytes{${scraped}}`, legend: `${perInstance} used` },
          { expr: `nodejs_heap_size_total_bytes{${scraped}}`, legend: `${perInstance} total` },
        ],
      }),
      timeSeriesPanel({
        title: 'Time in garbage collection (share of wall-clock time, by GC kind)',
        description:
          'Seconds spent in GC pauses per second of wall-clock time (0.01 = 1% of the time), by kind: minor (young generation, frequent and cheap), major (mark-sweep-compact), incremental. From the rate of nodejs_gc_duration_seconds_sum.',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum by (job, instance, kind) (rate(nodejs_gc_duration_seconds_sum{${scraped}}[$__rate_interval]))`,
            legend: `${perInstance} {{kind}}`,
          },
        ],
      }),
      timeSeriesPanel({
        title: 'CPU usage (share of one core)',
        description:
          'CPU seconds the process used per second, user and system together (1 = one core fully busy). The JavaScript of a process runs on one thread: near 1, the event loop is saturated, whatever the number of cores.',
        unit: 'percentunit',
        queries: [{ expr: `rate(process_cpu_seconds_total{${scraped}}[$__rate_interval])`, legend: perInstance }],
      }),
      timeSeriesPanel({
        title: 'Resident memory (RSS, bytes)',
        description:
          'Memory the operating system has given the process and that is in RAM: the heap plus code, stacks, buffers and native allocations. What a container memory limit is compared with.',
        unit: 'bytes',
        queries: [{ expr: `process_resident_memory_bytes{${scraped}}`, legend: perInstance }],
      }),
      timeSeriesPanel({
        title: 'Active handles (sockets, timers, servers)',
        description:
          'Long-lived libuv handles that keep the process alive: open sockets (clients, pools, the listening server), timers, child processes. Steady under steady load; growing without bound is a leak.',
        unit: 'short',
        width: 24,
        queries: [{ expr: `nodejs_active_handles_total{${scraped}}`, legend: perInstance }],
      }),
    ],
  });
}
