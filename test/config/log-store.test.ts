import assert from 'node:assert/strict';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { createLogger } from '@glassbox/telemetry';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { InvalidLogQuery, parseLogQuery, selects, UnsupportedLogQuery } from '../src/logql';
import { decodeLogs, type StoredLogLine } from '../src/otlp-logs';

/**
 * The native stack's stand-in for Loki (test/src/log-sink.ts) is what the
 * end-to-end suite runs the dashboards' log queries against, so it must store
 * a log record as Loki 3 does and select lines as LogQL says. Records here
 * are written the way the services write theirs, with the glassbox pino
 * logger, which the pino instrumentation turns into OpenTelemetry records
 * (caught by the test telemetry's in-memory exporter); the OpenTelemetry OTLP
 * protobuf serializer then makes the bytes an exporter sends.
 */

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

async function encodedRecords(): Promise<{ body: Buffer; resource: Record<string, unknown> }> {
  testTelemetry.reset();
  // The lines go to the OpenTelemetry pipeline; stdout is not needed here.
  const log = createLogger({ name: 'orders', destination: { write: () => undefined } });
  const inSpan = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    traceFlags: TraceFlags.SAMPLED,
  });
  context.with(inSpan, () => {
    log.error({ status: 500, detail: { reason: 'boom' } }, 'request failed: internal error');
    log.info({ order_id: 42 }, 'order placed');
  });
  log.warn('RabbitMQ connection failed; retrying');
  // The exporter gets each record once the resource's attributes are settled.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const records = testTelemetry.logs.getFinishedLogRecords();
  assert.equal(records.length, 3, 'the three records were exported');
  return {
    body: Buffer.from(ProtobufLogsSerializer.serializeRequest(records) as Uint8Array),
    resource: records[0]?.resource.attributes ?? {},
  };
}

describe('the native stack’s log store (test/src/log-sink.ts): OTLP in, Loki’s lines out', () => {
  let lines: StoredLogLine[];
  let resource: Record<string, unknown>;
  before(async () => {
    const encoded = await encodedRecords();
    lines = decodeLogs(encoded.body);
    resource = encoded.resource;
  });
  const byLine = (text: string) => lines.find((l) => l.line === text) as StoredLogLine;

  it('keeps each OTLP record as a line with the index labels Loki makes of the resource', () => {
    assert.deepEqual(
      lines.map((l) => l.line),
      ['request failed: internal error', 'order placed', 'RabbitMQ connection failed; retrying'],
    );
    const { labels } = byLine('order placed');
    assert.ok(resource['service.name'], 'the test resource names its service');
    assert.equal(labels.service_name, resource['service.name']);
    assert.equal(labels.service_instance_id, resource['service.instance.id']);
    assert.equal(labels.telemetry_sdk_language, undefined, 'not an index label');
  });

  it('keeps the trace id, severity and attributes as structured metadata, with Loki’s names', () => {
    const failed = byLine('request failed: internal error').metadata;
    assert.equal(failed.trace_id, TRACE_ID);
    assert.equal(failed.span_id, SPAN_ID);
    assert.equal(failed.severity_number, '17');
    assert.equal(failed.severity_text, 'error');
    assert.equal(failed.detected_level, 'error');
    assert.equal(failed.status, '500');
    assert.equal(failed.detail_reason, 'boom', 'nested attributes are flattened with _');
    assert.equal(failed.telemetry_sdk_language, 'nodejs', 'resource attributes that are not labels');
    assert.match(failed.scope_name ?? '', /pino/, 'the instrumentation scope');
    assert.equal(byLine('RabbitMQ connection failed; retrying').metadata.trace_id, undefined, 'no span, no trace id');
  });

  it('selects lines by stream selector, label and number filters, and line filters, as LogQL does', () => {
    const selected = (expr: string) =>
      lines.filter((line) => selects(parseLogQuery(expr), line)).map((line) => line.line);
    // The test process is the service here: its resource names it (unknown_service:node when unset).
    const service = String(resource['service.name']);
    const instance = String(resource['service.instance.id']);
    const prefix = service.slice(0, 3);
    assert.equal(selected(`{service_name="${service}"}`).length, 3);
    assert.deepEqual(selected(`{service_name="not-${service}"}`), []);
    assert.deepEqual(selected(`{service_name=~"${prefix}.+"} | severity_number >= 13`), [
      'request failed: internal error',
      'RabbitMQ connection failed; retrying',
    ]);
    assert.deepEqual(selected(`{service_instance_id="${instance}"} | trace_id="${TRACE_ID}" |= "placed"`), [
      'order placed',
    ]);
    assert.deepEqual(selected(`{service_name="${service}"} | trace_id!="" != "placed"`), [
      'request failed: internal error',
    ]);
    assert.deepEqual(selected(`{service_name="${service}"} |~ "(?i)rabbitmq"`), [
      'RabbitMQ connection failed; retrying',
    ]);
    // Label regexes are anchored: a prefix alone matches no service_name.
    assert.deepEqual(selected(`{service_name=~"${prefix}"}`), []);
  });

  it('refuses what Loki refuses, and names the LogQL it does not answer', () => {
    assert.throws(() => parseLogQuery('{service_name=""}'), InvalidLogQuery);
    assert.throws(() => parseLogQuery('{service_name="orders"'), InvalidLogQuery);
    assert.throws(() => parseLogQuery('{service_name="orders"} | logfmt'), /does not answer.*logfmt/);
    assert.throws(() => parseLogQuery('{service_name="orders"} | status >= 500 or status = 404'), UnsupportedLogQuery);
    assert.throws(() => parseLogQuery('count_over_time({service_name="orders"}[5m])'), UnsupportedLogQuery);
  });
});
