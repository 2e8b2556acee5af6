import {
  context,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  logs,
  metrics,
  propagation,
  trace,
  type Sampler,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { detectResources, envDetector, hostDetector, processDetector } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
  type LogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type * as OtlpLogsJson from '@opentelemetry/exporter-logs-otlp-http';
import type * as OtlpLogsProto from '@opentelemetry/exporter-logs-otlp-proto';
import type * as OtlpMetricsJson from '@opentelemetry/exporter-metrics-otlp-http';
import type * as OtlpMetricsProto from '@opentelemetry/exporter-metrics-otlp-proto';
import type * as OtlpTraceJson from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtlpTraceProto from '@opentelemetry/exporter-trace-otlp-proto';
import type { EdgeGate } from './edge';
import { buildInstrumentations } from './instrumentations';
import { registerTelemetryShutdown } from './lifecycle';
import { buildResource } from './resource';
import { EdgeSampler, samplersFromEnvironment } from './sampler';

/* eslint-disable @typescript-eslint/no-require-imports -- an exporter is loaded only when its protocol is chosen */

/** What the test harness swaps for in-memory exporters; everything else is as in production. */
export interface TelemetryOverrides {
  spanProcessors?: SpanProcessor[];
  logRecordProcessors?: LogRecordProcessor[];
  metricReaders?: IMetricReader[];
}

/**
 * Starts traces, metrics and logs from the standard OTEL_* variables, as
 * NodeSDK would, assembled from the SDK's parts instead of through
 * @opentelemetry/sdk-node: that package loads every exporter it could use
 * (gRPC, Zipkin, Prometheus, B3...) at start, which the benchmark measured
 * at ~70 ms of cold start and ~16 MB of memory for nothing. Here only the
 * exporter of the protocol asked for is loaded.
 *
 * Supported: OTEL_{TRACES,METRICS,LOGS}_EXPORTER = otlp (default) | console |
 * none; OTEL_EXPORTER_OTLP[_{TRACES,METRICS,LOGS}]_PROTOCOL = http/protobuf
 * (default) | http/json; the exporters read their own endpoint, headers and
 * timeout variables; OTEL_BSP_* and OTEL_BLRP_* size the batches;
 * OTEL_METRIC_EXPORT_INTERVAL and _TIMEOUT; OTEL_TRACES_SAMPLER[_ARG];
 * OTEL_PROPAGATORS is W3C trace context and baggage, as its default says.
 *
 * `edge` is given to the process that takes requests from outside (the
 * gateway, see edge.ts): its server spans start under the edge trace policy
 * and the edge's own sampling decision.
 */
export function startTelemetry(overrides: TelemetryOverrides = {}, edge?: EdgeGate): void {
  const level = process.env.OTEL_LOG_LEVEL?.trim().toUpperCase();
  if (level)
    diag.setLogger(new DiagConsoleLogger(), {
      logLevel: DiagLogLevel[level as keyof typeof DiagLogLevel] ?? DiagLogLevel.WARN,
    });

  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );

  // As NodeSDK: glassbox's defaults, then what the environment, the process and the host say.
  const resource = buildResource().merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] }));

  const readers = overrides.metricReaders ?? metricReadersFromEnvironment();
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);

  const spanProcessors = overrides.spanProcessors ?? spanProcessorsFromEnvironment();
  const tracerProvider =
    spanProcessors.length > 0 ? new TracerProvider({ resource, sampler: sampler(edge), spanProcessors }) : undefined;
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);

  const processors = overrides.logRecordProcessors ?? logProcessorsFromEnvironment();
  const loggerProvider = processors.length > 0 ? new LoggerProvider({ resource, processors }) : undefined;
  if (loggerProvider) logs.setGlobalLoggerProvider(loggerProvider);

  registerInstrumentations({
    instrumentations: buildInstrumentations(edge),
    tracerProvider,
    meterProvider,
    loggerProvider,
  });
  registerTelemetryShutdown(async () => {
    await Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown(), loggerProvider?.shutdown()]);
  });
}

/**
 * The gateway's sampler decides at the edge (EdgeSampler); every other
 * process's is the standard one that OTEL_TRACES_SAMPLER configures.
 */
function sampler(edge: EdgeGate | undefined): Sampler {
  const { root, standard } = samplersFromEnvironment();
  return edge ? new EdgeSampler(root, standard) : standard;
}

type Signal = 'TRACES' | 'METRICS' | 'LOGS';

/** OTEL_<signal>_EXPORTER, as a set of names: `otlp` when unset, nothing when it says `none`. */
function exportersOf(signal: Signal): string[] {
  const names = (process.env[`OTEL_${signal}_EXPORTER`] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.includes('none')) return [];
  return names.length > 0 ? [...new Set(names)] : ['otlp'];
}

function protocolOf(signal: Signal): 'http/protobuf' | 'http/json' {
  const protocol = (
    process.env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ??
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol === 'http/protobuf' || protocol === 'http/json') return protocol;
  process.stderr.write(
    `telemetry: OTLP protocol "${protocol}" for ${signal.toLowerCase()} not supported; using http/protobuf\n`,
  );
  return 'http/protobuf';
}

function unknownExporter(signal: Signal, name: string): void {
  process.stderr.write(`telemetry: unknown OTEL_${signal}_EXPORTER "${name}" ignored; known: otlp, console, none\n`);
}

/** A positive number from the environment, or undefined (the SDK's default) when unset or invalid. */
function positive(variable: string): number | undefined {
  const value = Number(process.env[variable]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** The OTLP exporter of a signal, for the protocol its variables choose: only that package is loaded. */
function otlpExporter<T>(signal: Signal, json: () => T, protobuf: () => T): T {
  return protocolOf(signal) === 'http/json' ? json() : protobuf();
}

/** OTEL_BSP_* or OTEL_BLRP_*: the batch processor's sizes and delays (unset: the SDK's defaults). */
function batchFromEnvironment(prefix: 'OTEL_BSP' | 'OTEL_BLRP') {
  return {
    maxQueueSize: positive(`${prefix}_MAX_QUEUE_SIZE`),
    maxExportBatchSize: positive(`${prefix}_MAX_EXPORT_BATCH_SIZE`),
    scheduledDelayMillis: positive(`${prefix}_SCHEDULE_DELAY`),
    exportTimeoutMillis: positive(`${prefix}_EXPORT_TIMEOUT`),
  };
}

function spanProcessorsFromEnvironment(): SpanProcessor[] {
  return exportersOf('TRACES').flatMap((name): SpanProcessor[] => {
    if (name === 'console') return [new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })];
    if (name !== 'otlp') return (unknownExporter('TRACES', name), []);
    const exporter = otlpExporter<SpanExporter>(
      'TRACES',
      () => new (require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpTraceJson).OTLPTraceExporter(),
      () => new (require('@opentelemetry/exporter-trace-otlp-proto') as typeof OtlpTraceProto).OTLPTraceExporter(),
    );
    const batch = batchFromEnvironment('OTEL_BSP');
    return [
      new BatchSpanProcessor({
        ...batch,
        exporter,
        maxQueueSize: batch.maxQueueSize ?? SPAN_QUEUE,
        maxExportBatchSize: batch.maxExportBatchSize ?? SPAN_BATCH,
      }),
    ];
  });
}

/**
 * Span batches of 128 (the SDK's default is 512) in a queue of 2048 (its
 * default): serialising a batch blocks the event loop, and a request that
 * waits behind a batch of 512 waits four times as long; the queue bounds the
 * memory spans may hold when the collector is slow (beyond it, spans are
 * dropped and counted). Both are one variable away (OTEL_BSP_*).
 */
const SPAN_BATCH = 128;
const SPAN_QUEUE = 2048;

function metricReadersFromEnvironment(): IMetricReader[] {
  const interval = positive('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const timeout = Math.min(positive('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, interval);
  return exportersOf('METRICS').flatMap((name): IMetricReader[] => {
    if (name !== 'console' && name !== 'otlp') return (unknownExporter('METRICS', name), []);
    const exporter =
      name === 'console'
        ? new ConsoleMetricExporter()
        : otlpExporter<PushMetricExporter>(
            'METRICS',
            () =>
              new (require('@opentelemetry/exporter-metrics-otlp-http') as typeof OtlpMetricsJson).OTLPMetricExporter(),
            () =>
              new (
                require('@opentelemetry/exporter-metrics-otlp-proto') as typeof OtlpMetricsProto
              ).OTLPMetricExporter(),
          );
    return [
      new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval, exportTimeoutMillis: timeout }),
    ];
  });
}

function logProcessorsFromEnvironment(): LogRecordProcessor[] {
  return exportersOf('LOGS').flatMap((name): LogRecordProcessor[] => {
    if (name === 'console') return [new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() })];
    if (name !== 'otlp') return (unknownExporter('LOGS', name), []);
    const exporter = otlpExporter<LogRecordExporter>(
      'LOGS',
      () => new (require('@opentelemetry/exporter-logs-otlp-http') as typeof OtlpLogsJson).OTLPLogExporter(),
      () => new (require('@opentelemetry/exporter-logs-otlp-proto') as typeof OtlpLogsProto).OTLPLogExporter(),
    );
    return [new BatchLogRecordProcessor({ ...batchFromEnvironment('OTEL_BLRP'), exporter })];
  });
}
