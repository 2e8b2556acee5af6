/**
 * Test harness: the same instrumentation and resource as production, with
 * in-memory exporters in place of OTLP. Mocha loads it with --require, before
 * any test file requires koa, for the same reason production preloads
 * ./register: instrumentation patches modules as they are first required.
 */
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { EdgeGate } from './edge';
import type { EdgeTracePolicy } from './edge-policy';
import { startTelemetry } from './sdk';

/** A finished span as the in-memory exporter keeps it: what trace-shape assertions read. */
export type { ReadableSpan };

export interface TestTelemetry {
  spans: InMemorySpanExporter;
  logs: InMemoryLogRecordExporter;
  /** Forgets everything exported so far. */
  reset(): void;
  /** Ended spans of one trace, in the order they ended. */
  trace(traceId: string): ReadableSpan[];
  /**
   * Treats the requests that arrive on `port` as the public edge, under
   * `policy`: what EDGE_TRACE_POLICY does for the whole process of a gateway,
   * for the one in-process gateway of a test. Called with nothing, no request is.
   */
  edge(at?: { policy: EdgeTracePolicy; port: number }): void;
}

const KEY = Symbol.for('glassbox.telemetry.testing');

function start(): TestTelemetry {
  const spans = new InMemorySpanExporter();
  const logs = new InMemoryLogRecordExporter();
  let edge: { policy: EdgeTracePolicy; port: number } | undefined;
  const gate: EdgeGate = {
    policyFor: (request) => (edge && request.socket.localPort === edge.port ? edge.policy : undefined),
  };
  startTelemetry(
    {
      spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
      logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logs })],
      metricReaders: [],
    },
    gate,
  );
  return {
    spans,
    logs,
    reset() {
      spans.reset();
      logs.reset();
    },
    trace(traceId) {
      return spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    },
    edge(at) {
      edge = at;
    },
  };
}

const holder = globalThis as { [KEY]?: TestTelemetry };
export const testTelemetry: TestTelemetry = (holder[KEY] ??= start());
